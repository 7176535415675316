import JobEngine

/// The collectors and ingesters that reach real sources and sinks over the network or through
/// other programs. They live apart from `JobEngine`, which has no HTTP client: an embedder that
/// needs them adds this target and makes one call.
///
/// ```swift
/// let engine = try Engine(storePath: "engine.sqlite")
/// Connectors.register(on: engine)
/// ```
public enum Connectors {
    private typealias Collector = (type: String, validate: ComponentRegistry.Validator, make: ComponentRegistry.AsyncCollectorFactory)
    private typealias Ingester = (type: String, validate: ComponentRegistry.Validator, make: ComponentRegistry.AsyncIngesterFactory)

    /// Every connector type, in one list for both ways of registering.
    private static let collectors: [Collector] = [
        ("brightdata", BrightDataOptions.validate, { context, _ in try BrightDataCollector(context: context) }),
        ("http", HTTPCollectorOptions.validate, { context, _ in try HTTPCollector(context: context) }),
    ]
    private static let ingesters: [Ingester] = [
        ("http", HTTPIngester.Options.validate, { context, _ in try HTTPIngester(context: context) }),
    ]
    /// Connectors that block their slot's own thread (a program's pipes), not the async pool.
    private static let blockingCollectors: [(type: String, validate: ComponentRegistry.Validator, make: ComponentRegistry.CollectorFactory)] = [
        ("command", CommandOptions.validate, { context, _ in try CommandCollector(context: context) }),
    ]
    private static let blockingIngesters: [(type: String, validate: ComponentRegistry.Validator, make: ComponentRegistry.IngesterFactory)] = [
        ("command", CommandOptions.validate, { context, _ in try CommandIngester(context: context) }),
    ]

    /// The collector types this target adds.
    public static var collectorTypes: [String] { collectors.map(\.type) + blockingCollectors.map(\.type) }
    /// The ingester types this target adds.
    public static var ingesterTypes: [String] { ingesters.map(\.type) + blockingIngesters.map(\.type) }

    /// Makes every connector type available to `engine`'s specs.
    public static func register(on engine: Engine) {
        for collector in collectors { engine.register(asyncCollector: collector.type, validate: collector.validate, make: collector.make) }
        for ingester in ingesters { engine.register(asyncIngester: ingester.type, validate: ingester.validate, make: ingester.make) }
        for collector in blockingCollectors { engine.register(collector: collector.type, validate: collector.validate, make: collector.make) }
        for ingester in blockingIngesters { engine.register(ingester: ingester.type, validate: ingester.validate, make: ingester.make) }
    }

    /// The built-in types and the connectors: what `engine-run` validates a spec against before it
    /// opens a store.
    package static var registry: ComponentRegistry {
        var registry = ComponentRegistry.builtIn
        for collector in collectors { registry.register(asyncCollector: collector.type, validate: collector.validate, make: collector.make) }
        for ingester in ingesters { registry.register(asyncIngester: ingester.type, validate: ingester.validate, make: ingester.make) }
        for collector in blockingCollectors { registry.register(collector: collector.type, validate: collector.validate, make: collector.make) }
        for ingester in blockingIngesters { registry.register(ingester: ingester.type, validate: ingester.validate, make: ingester.make) }
        return registry
    }
}
