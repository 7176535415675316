import Dispatch

/// A ``Collector`` whose source is asynchronous (an async HTTP client, a cloud SDK). Register it with
/// ``Engine/register(asyncCollector:validate:make:)``; the engine's worker threads bridge each call,
/// so the guarantees are those of ``Collector``.
public protocol AsyncCollector: Sendable {
    func page(after cursor: String?, for item: ItemContext) async throws -> Page
}

/// An ``Ingester`` whose sink is asynchronous. Register it with
/// ``Engine/register(asyncIngester:validate:make:)``; delivery is at-least-once with a stable
/// ``Batch/idempotencyKey``, as for ``Ingester``.
public protocol AsyncIngester: Sendable {
    func prepare(for item: ItemContext, sinkOffset: Int64?) async throws
    func ingest(_ batch: Batch) async throws -> Int64?
    func reset(for item: ItemContext) async throws
    func finish(for item: ItemContext) async
}

extension AsyncIngester {
    public func prepare(for item: ItemContext, sinkOffset: Int64?) async throws {}
    public func reset(for item: ItemContext) async throws {}
    public func finish(for item: ItemContext) async {}
}

/// Runs an async call to completion from one of the scheduler's own threads. Those threads are
/// dedicated to their slot (not Swift concurrency's cooperative pool), so waiting here parks only
/// that slot, which is what a synchronous collector call does too. The task is joined before this
/// returns: it never outlives the call.
func awaitOnSlotThread<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let outcome = Locked<Result<T, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        do {
            let value = try await body()
            outcome.withLock { $0 = .success(value) }
        } catch {
            outcome.withLock { $0 = .failure(error) }
        }
        done.signal()
    }
    done.wait()
    guard let result = outcome.withLock({ $0 }) else { preconditionFailure("the bridged task signalled without an outcome") }
    return try result.get()
}

extension ComponentRegistry {
    package typealias AsyncCollectorFactory = @Sendable (ComponentContext, ItemContext) throws -> any AsyncCollector
    package typealias AsyncIngesterFactory = @Sendable (ComponentContext, ItemContext) throws -> any AsyncIngester

    package mutating func register(asyncCollector type: String, validate: @escaping Validator, make: @escaping AsyncCollectorFactory) {
        register(collector: type, validate: validate) { context, item in BridgedCollector(inner: try make(context, item)) }
    }

    package mutating func register(asyncIngester type: String, validate: @escaping Validator, make: @escaping AsyncIngesterFactory) {
        register(ingester: type, validate: validate) { context, item in BridgedIngester(inner: try make(context, item)) }
    }
}

/// An ``AsyncCollector`` seen by the scheduler as a ``Collector``.
struct BridgedCollector: Collector {
    let inner: any AsyncCollector

    func page(after cursor: String?, for item: ItemContext) throws -> Page {
        try awaitOnSlotThread { [inner] in try await inner.page(after: cursor, for: item) }
    }
}

/// An ``AsyncIngester`` seen by the scheduler as an ``Ingester``.
struct BridgedIngester: Ingester {
    let inner: any AsyncIngester

    func prepare(for item: ItemContext, sinkOffset: Int64?) throws {
        try awaitOnSlotThread { [inner] in try await inner.prepare(for: item, sinkOffset: sinkOffset) }
    }

    func ingest(_ batch: Batch) throws -> Int64? {
        try awaitOnSlotThread { [inner] in try await inner.ingest(batch) }
    }

    func reset(for item: ItemContext) throws {
        try awaitOnSlotThread { [inner] in try await inner.reset(for: item) }
    }

    func finish(for item: ItemContext) {
        _ = try? awaitOnSlotThread { [inner] in await inner.finish(for: item) }
    }
}
