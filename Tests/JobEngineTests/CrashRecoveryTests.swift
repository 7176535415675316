import Foundation
import Testing

@testable import JobEngine

/// Invariant 2 in process: an engine abandoned mid-run (its store closed without a clean shutdown,
/// as a crash leaves it) is recovered by a new engine on the same file, and every sink holds every
/// document exactly once. The kill -9 version lives in the engine-run tests.
@Suite struct CrashRecoveryTests {
    @Test(arguments: ["jsonl", "sqlite"])
    func anAbandonedEngineIsRecoveredByTheNextWithEveryDocumentOnce(sink: String) async throws {
        let folder = try TemporaryDirectory()
        let collectGate = Gate()
        let ingestGate = Gate()
        // "a" freezes while fetching its 3rd page; "b" freezes after its 3rd batch reached the sink
        // but before that batch's checkpoint commits: the window where a crash would double a batch.
        let first = try Engine(storePath: folder.storePath, logger: quietLogger)
        registerGated(on: first, collectGate: collectGate, ingestGate: ingestGate, stallItem: ["a": 100, "b": 80])
        var spec = makeSpec(items: ["a", "b"], documents: 200, pageSize: 50, batchSize: 40, sink: sink)
        spec.collector.type = "gated"
        spec.ingester.type = "gated-" + sink
        let job = try await first.submit(spec, baseDirectory: folder.url).job
        let handle = try await first.start(jobID: job.id)
        _ = handle
        try await collectGate.waitUntilReached()
        try await ingestGate.waitUntilReached()
        first.close()

        if sink == "jsonl" {
            // The crash also tore the next write in half.
            let file = try #require(FileHandle(forWritingAtPath: folder.path("out/b.jsonl")))
            try file.seekToEnd()
            try file.write(contentsOf: Data("{\"item\":\"b\",\"seq\":120,\"ke".utf8))
            try file.close()
        }

        // A new engine on the same file sees at once (no lease time-out) that the owner is dead.
        let second = try Engine(storePath: folder.storePath, logger: quietLogger)
        registerGated(on: second, collectGate: Gate(opened: true), ingestGate: Gate(opened: true), stallItem: [:])
        let interrupted = try await second.items(jobID: job.id)
        #expect(interrupted.map(\.status) == [.failed, .failed])
        #expect(interrupted.map(\.errorKind) == [.interrupted, .interrupted])
        #expect(interrupted.map(\.collected) == [100, 200])
        #expect(interrupted.map(\.ingested) == [0, 80])

        let retry = try await second.retry(interrupted.map(\.id), mode: .recover)
        #expect(retry.total == 2)
        let summary = try await second.run(jobID: job.id)
        #expect(summary.allSucceeded)
        // No page was fetched twice: the one in flight at the crash was never staged.
        #expect(summary.items.map(\.collectedTotal) == [200, 200])
        try expectSinkHoldsEachOnce(sink: sink, folder: folder, items: ["a", "b"], documents: 200)
        #expect(try second.sqliteStore.integrityCheck() == "ok")

        // Let the abandoned threads go: their writes fail on the closed store and change nothing.
        collectGate.open()
        ingestGate.open()
        await second.shutdown()
    }

    @Test func aLiveEnginesItemsAreNotTakenOverButADeadOnesAreAtOnce() async throws {
        let folder = try TemporaryDirectory()
        let gate = Gate()
        let (first, job, _) = try await startStalled(in: folder, at: gate, leaseSeconds: 3600)

        let observer = try Engine(storePath: folder.storePath, logger: quietLogger)
        #expect(try await observer.items(jobID: job.id).first?.status == .running)
        #expect(try await observer.items(jobID: job.id).first?.leaseOwner == first.owner)
        observer.close()

        first.close()  // the lease has an hour left, but the owner lock is gone with the engine
        let next = try Engine(storePath: folder.storePath, logger: quietLogger)
        let item = try #require(try await next.items(jobID: job.id).first)
        #expect(item.status == .failed && item.errorKind == .interrupted)
        let history = try await next.history(itemID: item.id)
        #expect(history.last?.from == .running && history.last?.to == .failed && history.last?.errorKind == .interrupted)
        gate.open()
        next.close()
    }

    @Test func gracefulShutdownCheckpointsRunningItemsAndLeavesThemRecoverable() async throws {
        let folder = try TemporaryDirectory()
        let gate = Gate()
        let (engine, job, handle) = try await startStalled(in: folder, at: gate, stallAt: 100, documents: 200)
        async let stopped: Void = engine.shutdown()
        // Shutdown waits for the page in flight, which is staged and checkpointed before the item stops.
        try await Task.sleep(for: .milliseconds(50))
        gate.open()
        await stopped
        let summary = try await handle.wait()
        let item = try #require(summary.items.first)
        #expect(item.status == .failed && item.errorKind == .interrupted)
        #expect(item.collected == 150)
        await #expect(throws: EngineError.self) { _ = try await engine.retry([item.id], mode: .recover) }

        let next = try Engine(storePath: folder.storePath, logger: quietLogger)
        registerGated(on: next, collectGate: Gate(opened: true), ingestGate: Gate(opened: true), stallItem: [:])
        #expect(try await next.retry([item.id], mode: .recover).total == 1)
        let done = try #require(try await next.run(jobID: job.id).items.first)
        #expect(done.status == .succeeded && done.collectedTotal == 200)
        #expect(done.notCollectedAgain == 150, "continued after the shutdown with 150 staged")
        await next.shutdown()
    }
}

/// Starts item "a" (of `documents`, pages of 50) in the background on a new engine and returns once
/// its collector is stalled at `gate` on the page starting at `stallAt`.
func startStalled(
    in folder: TemporaryDirectory, at gate: Gate, stallAt: Int = 50, documents: Int = 100, leaseSeconds: Double = 30
) async throws -> (Engine, Job, RunHandle) {
    let engine = try Engine(storePath: folder.storePath, leaseSeconds: leaseSeconds, logger: quietLogger)
    registerGated(on: engine, collectGate: gate, ingestGate: Gate(opened: true), stallItem: ["a": stallAt])
    var spec = makeSpec(items: ["a"], documents: documents, pageSize: 50)
    spec.collector.type = "gated"
    let job = try await engine.submit(spec, baseDirectory: folder.url).job
    let handle = try await engine.start(jobID: job.id)
    try await gate.waitUntilReached()
    return (engine, job, handle)
}

/// Registers collector "gated" and ingesters "gated-jsonl" / "gated-sqlite": the built-in ones,
/// except that item `name` stalls at a gate when it reaches `stallItem[name]` (collect: the page
/// starting there; ingest: after the batch starting there reached the sink, before it returns).
func registerGated(on engine: Engine, collectGate: Gate, ingestGate: Gate, stallItem: [String: Int]) {
    engine.register(collector: "gated") { context, item in
        GatedCollector(inner: try SyntheticCollector(context: context), gate: collectGate, at: stallItem[item.itemName])
    }
    engine.register(ingester: "gated-jsonl") { context, item in
        GatedIngester(inner: try JSONLIngester(context: context, item: item), gate: ingestGate, at: stallItem[item.itemName])
    }
    engine.register(ingester: "gated-sqlite") { context, item in
        GatedIngester(inner: try SQLiteIngester(context: context, item: item), gate: ingestGate, at: stallItem[item.itemName])
    }
}

struct GatedCollector: Collector {
    let inner: SyntheticCollector
    let gate: Gate
    let at: Int?

    func page(after cursor: String?, for item: ItemContext) throws -> Page {
        if let at, cursor == String(at) { gate.pass() }
        return try inner.page(after: cursor, for: item)
    }
}

struct GatedIngester: Ingester {
    let inner: any Ingester
    let gate: Gate
    let at: Int?

    func prepare(for item: ItemContext, sinkOffset: Int64?) throws { try inner.prepare(for: item, sinkOffset: sinkOffset) }
    func reset(for item: ItemContext) throws { try inner.reset(for: item) }
    func finish(for item: ItemContext) { inner.finish(for: item) }

    func ingest(_ batch: Batch) throws -> Int64? {
        let offset = try inner.ingest(batch)
        if let at, batch.documents.first?.seq == at { gate.pass() }
        return offset
    }
}
