import Foundation

/// The collector and ingester types a spec may name, each with a validator for its options and
/// a factory. The built-in types are always there; an embedder adds its own.
public struct ComponentRegistry: Sendable {
    /// Checks a component's options, reporting each problem on the reader; must reject unknown keys.
    public typealias Validator = @Sendable (FieldReader, ValidationContext) -> Void
    public typealias CollectorFactory = @Sendable (ComponentContext, ItemContext) throws -> any Collector
    public typealias IngesterFactory = @Sendable (ComponentContext, ItemContext) throws -> any Ingester

    struct Entry<Factory: Sendable>: Sendable {
        let validate: Validator
        let make: Factory
    }

    private(set) var collectors: [String: Entry<CollectorFactory>] = [:]
    private(set) var ingesters: [String: Entry<IngesterFactory>] = [:]

    /// The default batch size of ingesters whose spec gives no `batch_size`.
    package static let defaultBatchSize = 100

    /// A registry with the built-in types: collectors `synthetic` and `jsonl`, ingesters `jsonl` and `sqlite`.
    package static var builtIn: ComponentRegistry {
        var registry = ComponentRegistry()
        registry.register(collector: "synthetic", validate: SyntheticCollector.validate) { context, _ in
            try SyntheticCollector(context: context)
        }
        registry.register(collector: "jsonl", validate: JSONLCollector.validate) { context, item in
            try JSONLCollector(context: context, item: item)
        }
        registry.register(ingester: "jsonl", validate: JSONLIngester.validate) { context, item in
            try JSONLIngester(context: context, item: item)
        }
        registry.register(ingester: "sqlite", validate: SQLiteIngester.validate) { context, item in
            try SQLiteIngester(context: context, item: item)
        }
        return registry
    }

    package mutating func register(collector type: String, validate: @escaping Validator = { _, _ in },
                                  make: @escaping CollectorFactory) {
        collectors[type] = Entry(validate: validate, make: make)
    }

    package mutating func register(ingester type: String, validate: @escaping Validator = { _, _ in },
                                  make: @escaping IngesterFactory) {
        ingesters[type] = Entry(validate: validate, make: make)
    }

    /// Keeps ingester type `type` known, but refuses every spec naming it with `message` (as a
    /// problem of `ingester.type`): a type this engine's store cannot keep its promises for.
    package mutating func refuse(ingester type: String, _ message: String) {
        guard let entry = ingesters[type] else { return }
        ingesters[type] = Entry(validate: { reader, context in
            entry.validate(reader, context)
            reader.report("type", message)
        }, make: entry.make)
    }

    /// Reads and validates the JSON or YAML spec at `url` against this registry's types, writing nothing.
    /// Relative paths in it resolve against its folder; no sink may write the spec file itself, nor
    /// any of the `protecting` paths (an engine passes its store's).
    ///
    /// - Throws: `EngineError` `.invalidSpec` listing every problem by field path.
    package func loadSpec(at url: URL, protecting: ProtectedPaths = ProtectedPaths()) throws -> JobSpec {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw EngineError(.invalidSpec, FileFailure.describe(error, doing: "read the job spec", path: url.path))
        }
        let (spec, problems, locate) = Self.isYAML(url) ? JobSpec.parseLocating(yaml: data) : JobSpec.parseLocating(json: data)
        guard let spec else { throw JobSpec.invalid(problems) }
        // Report the components' problems together with the structure's, not one round after the other.
        let all = problems + self.problems(in: spec, baseDirectory: url.deletingLastPathComponent().standardizedFileURL,
                                           protecting: protecting.adding(specFile: url)).map(locate)
        guard all.isEmpty else { throw JobSpec.invalid(all) }
        return spec
    }

    /// Whether the spec file at `url` is YAML (`.yaml`, `.yml`) rather than JSON.
    package static func isYAML(_ url: URL) -> Bool {
        ["yaml", "yml"].contains(url.pathExtension.lowercased())
    }

    /// Every problem with the spec's collector and ingester: unknown types, bad options, sink
    /// targets two items share or that are `protecting`'s.
    func problems(in spec: JobSpec, baseDirectory: URL, protecting: ProtectedPaths = ProtectedPaths()) -> [SpecProblem] {
        let context = ValidationContext(baseDirectory: baseDirectory, jobName: spec.name, itemNames: spec.items.map(\.name))
        var problems: [SpecProblem] = []
        let collectorReader = FieldReader(options: spec.collector.options, path: "collector")
        if let entry = collectors[spec.collector.type] {
            entry.validate(collectorReader, context)
        } else {
            collectorReader.report("type", Self.unknownType(spec.collector.type, known: collectors.keys))
        }
        problems += collectorReader.allProblems

        let ingesterReader = FieldReader(options: spec.ingester.options, path: "ingester")
        _ = ingesterReader.int("batch_size", default: Self.defaultBatchSize, in: 1...1_000_000)
        if let entry = ingesters[spec.ingester.type] {
            entry.validate(ingesterReader, context)
        } else {
            ingesterReader.report("type", Self.unknownType(spec.ingester.type, known: ingesters.keys))
        }
        problems += ingesterReader.allProblems
        if problems.isEmpty { problems += Self.targetProblems(spec, baseDirectory: baseDirectory, protecting: protecting) }
        return problems
    }

    /// Two items of a job never share a file, and no sink writes a protected path.
    private static func targetProblems(_ spec: JobSpec, baseDirectory: URL, protecting: ProtectedPaths) -> [SpecProblem] {
        var problems: [SpecProblem] = []
        var writers: [String: String] = [:]
        for target in SinkTarget.of(spec, baseDirectory: baseDirectory) {
            if let what = protecting.what(target.file) {
                problems.append(SpecProblem(field: "ingester.path",
                                            message: "\(target.file) is \(what); a sink may never write there: choose another path"))
            }
            guard let item = target.item else { continue }
            if let other = writers[target.key] {
                problems.append(SpecProblem(field: "ingester.path",
                                            message: "items \"\(other)\" and \"\(item)\" both write \(target.file); give each item a target of its own"))
            } else {
                writers[target.key] = item
            }
            if problems.count >= 100 { break }
        }
        return problems
    }

    func makeCollector(_ spec: JobSpec, baseDirectory: URL, item: ItemContext) throws -> any Collector {
        guard let entry = collectors[spec.collector.type] else {
            throw PhaseError.permanent("collector type \"\(spec.collector.type)\" is not registered in this engine")
        }
        return try entry.make(context(spec.collector, spec, baseDirectory), item)
    }

    func makeIngester(_ spec: JobSpec, baseDirectory: URL, item: ItemContext) throws -> any Ingester {
        guard let entry = ingesters[spec.ingester.type] else {
            throw PhaseError.permanent("ingester type \"\(spec.ingester.type)\" is not registered in this engine")
        }
        var options = spec.ingester.options
        options["batch_size"] = nil
        return try entry.make(context(ComponentSpec(type: spec.ingester.type, options: options), spec, baseDirectory), item)
    }

    static func batchSize(of spec: JobSpec) -> Int {
        if case .number(let size) = spec.ingester.options["batch_size"] { return max(1, Int(size)) }
        return defaultBatchSize
    }

    private func context(_ component: ComponentSpec, _ spec: JobSpec, _ baseDirectory: URL) -> ComponentContext {
        ComponentContext(options: component.options, baseDirectory: baseDirectory, jobName: spec.name,
                         sync: spec.checkpoint.sync)
    }

    private static func unknownType(_ type: String, known: Dictionary<String, some Any>.Keys) -> String {
        "unknown type \"\(type)\" (known: \(known.sorted().joined(separator: ", ")))"
    }
}
