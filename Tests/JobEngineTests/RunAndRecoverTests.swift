import Foundation
import JobEngineTestSupport
import Testing

@testable import JobEngine

@Suite struct RunAndRecoverTests {
    @Test func theIssuesMinimalSpecRunsAsWritten() async throws {
        let folder = try TemporaryDirectory()
        let json = """
        {
          "name": "news-2026-11",
          "concurrency": 4,
          "retry": { "max_attempts": 1, "mode": "recover", "backoff_ms": 200 },
          "checkpoint": { "sync": "normal" },
          "collector": { "type": "synthetic", "documents": 1000, "page_size": 50, "document_bytes": 512, "latency_ms": 0 },
          "ingester": { "type": "jsonl", "path": "out/{item}.jsonl", "batch_size": 100 },
          "items": [ { "name": "q1", "params": { "query": "swift" } }, { "name": "q2" } ],
          "faults": [ { "item": "q2", "phase": "ingest", "at_document": 600, "times": 1, "message": "sink timed out" } ]
        }
        """
        let specURL = folder.url.appendingPathComponent("news.json")
        try Data(json.utf8).write(to: specURL)
        let engine = try Engine(storePath: folder.storePath)
        let job = try await engine.submit(specAt: specURL).job
        let summary = try await engine.run(jobID: job.id)

        let q1 = try #require(summary.items.first { $0.name == "q1" })
        let q2 = try #require(summary.items.first { $0.name == "q2" })
        #expect(q1.status == .succeeded && q1.phase == .done && q1.collectedTotal == 1000 && q1.ingested == 1000)
        #expect(q1.parameters == ["query": "swift"])
        #expect(q2.status == .failed && q2.errorKind == .transient && q2.lastError == "sink timed out")
        #expect(q2.collected == 1000 && q2.ingested == 600)  // batches 0-5 went through; the one holding 600 failed
        #expect(try jsonlSeqs(folder.path("out/q1.jsonl")) == Array(0..<1000))

        // The line format is the documented one, and the body is the synthetic document.
        let firstLine = try #require(try String(contentsOfFile: folder.path("out/q1.jsonl"), encoding: .utf8).split(separator: "\n").first)
        let line = try #require(try JSONSerialization.jsonObject(with: Data(firstLine.utf8)) as? [String: Any])
        #expect(line["item"] as? String == "q1" && line["key"] as? String == "q1-0" && line["seq"] as? Int == 0)
        let data = try #require(line["data"] as? [String: Any])
        #expect(data["key"] as? String == "q1-0")
        #expect(try JSONSerialization.data(withJSONObject: data).count == 512)

        // Recover: nothing is collected again after an ingest failure; the fault fired its one time.
        let retry = try await engine.retry([q2.id], mode: .recover)
        #expect(retry.total == 1 && retry.skipped.isEmpty)
        let after = try await engine.run(jobID: job.id)
        let recovered = try #require(after.items.first { $0.name == "q2" })
        #expect(recovered.status == .succeeded)
        #expect(recovered.collectedTotal == 1000)
        #expect(recovered.notCollectedAgain == 1000, "the recover resumed with all 1,000 staged")
        #expect(recovered.attempt == 2)
        #expect(try jsonlSeqs(folder.path("out/q2.jsonl")) == Array(0..<1000))
        await engine.shutdown()
    }

    @Test(arguments: ["jsonl", "sqlite"])
    func collectFailureThenRecoverCollectsOnlyTheRemainingPages(sink: String) async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath)
        let spec = makeSpec(documents: 500, pageSize: 50, sink: sink,
                            faults: [FaultSpec(item: "q1", phase: .collect, atDocument: 230, message: "source down")])
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        let failed = try #require(try await engine.run(jobID: job.id).items.first)
        #expect(failed.status == .failed && failed.phase == .collect)
        #expect(failed.collected == 200 && failed.collectedTotal == 200 && failed.ingested == 0)

        #expect(try await engine.retry([failed.id], mode: .recover).total == 1)
        let item = try #require(try await engine.run(jobID: job.id).items.first)
        #expect(item.status == .succeeded)
        #expect(item.collectedTotal == 500)  // pages before the failure were not fetched again
        #expect(item.notCollectedAgain == 200)
        try expectSinkHoldsEachOnce(sink: sink, folder: folder, items: ["q1"], documents: 500)
        await engine.shutdown()
    }

    @Test(arguments: ["jsonl", "sqlite"])
    func restartRecollectsEverythingAndTheSinkHoldsEachDocumentOnce(sink: String) async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath)
        let spec = makeSpec(documents: 300, sink: sink,
                            faults: [FaultSpec(item: "q1", phase: .ingest, atDocument: 250, message: "sink timed out")])
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        let failed = try #require(try await engine.run(jobID: job.id).items.first)
        #expect(failed.status == .failed && failed.ingested == 240)

        let result = try await engine.retry([failed.id], mode: .restart)
        #expect(result.total == 1)
        let cleared = try #require(try await engine.item(failed.id))
        #expect(cleared.status == .pending && cleared.collected == 0 && cleared.ingested == 0 && cleared.phase == .collect)
        #expect(cleared.collectedTotal == 300)  // the all-attempts figure is kept

        let item = try #require(try await engine.run(jobID: job.id).items.first)
        #expect(item.status == .succeeded)
        #expect(item.collectedTotal == 600)  // restart fetched everything again
        #expect(item.notCollectedAgain == 0, "a restart keeps nothing, so it saves nothing")
        #expect(item.retryMode == .restart)
        try expectSinkHoldsEachOnce(sink: sink, folder: folder, items: ["q1"], documents: 300)
        await engine.shutdown()
    }

    @Test func automaticRetriesUseTheSpecsModeAndStopAtMaxAttempts() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath)
        let spec = makeSpec(items: ["a", "b"], documents: 200, maxAttempts: 3, mode: .recover, faults: [
            FaultSpec(item: "a", phase: .ingest, atDocument: 150, times: 2, message: "flaky sink"),
            FaultSpec(item: "b", phase: .collect, atDocument: 10, times: 5, message: "source down"),
        ])
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        let summary = try await engine.run(jobID: job.id)
        let a = try #require(summary.items.first { $0.name == "a" })
        let b = try #require(summary.items.first { $0.name == "b" })
        #expect(a.status == .succeeded && a.attempt == 3 && a.collectedTotal == 200)  // two recovers, nothing re-collected
        #expect(a.notCollectedAgain == 400, "two automatic recovers, each resumed with 200 staged")
        #expect(b.notCollectedAgain == 0, "it failed before its first page")
        #expect(b.status == .failed && b.attempt == 3 && b.lastError == "source down")
        let history = try await engine.history(itemID: a.id)
        #expect(history.filter { $0.to == .pending && $0.mode == .recover }.count == 2)
        await engine.shutdown()
    }

    @Test func permanentErrorsAreNotRetriedAutomatically() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath)
        engine.register(collector: "broken") { _, _ in BrokenCollector() }
        var spec = makeSpec(maxAttempts: 5)
        spec.collector = ComponentSpec(type: "broken")
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        let item = try #require(try await engine.run(jobID: job.id).items.first)
        #expect(item.status == .failed && item.errorKind == .permanent && item.attempt == 1)
        await engine.shutdown()
    }

    @Test func runsAtMostConcurrencyItemsAtOnce() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath)
        let probe = ConcurrencyProbe(expected: 2)
        engine.register(collector: "probe") { _, _ in ProbeCollector(probe: probe) }
        var spec = makeSpec(items: ["a", "b", "c", "d", "e"], concurrency: 2)
        spec.collector = ComponentSpec(type: "probe")
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        let summary = try await engine.run(jobID: job.id)
        #expect(summary.allSucceeded)
        #expect(probe.maximum == 2)  // both slots were busy at once, never a third
        await engine.shutdown()
    }

    @Test func eventsReportProgressAndEveryTransitionIsRecorded() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath)
        let seen = Recorder<String>()
        engine.observe { event in
            switch event {
            case .pageCollected(_, let collected): seen.append("page \(collected)")
            case .batchIngested(_, let ingested): seen.append("batch \(ingested)")
            case .itemStopped(let item): seen.append("stopped \(item.status.rawValue)")
            case .itemStarted, .itemsInterrupted: break
            }
        }
        let spec = makeSpec(documents: 100, pageSize: 50, batchSize: 60,
                            faults: [FaultSpec(item: "q1", phase: .ingest, atDocument: 70, message: "down")])
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        let failed = try #require(try await engine.run(jobID: job.id).items.first)
        _ = try await engine.retry([failed.id], mode: .recover)
        _ = try await engine.run(jobID: job.id)
        #expect(seen.values == ["page 50", "page 100", "batch 60", "stopped failed", "batch 100", "stopped succeeded"])

        let history = try await engine.history(itemID: failed.id)
        let transitions = history.map { "\($0.from?.rawValue ?? "-")>\($0.to.rawValue)@\($0.attempt)\($0.mode.map { ":\($0.rawValue)" } ?? "")" }
        #expect(transitions == ["->pending@1", "pending>running@1", "running>failed@1", "failed>pending@2:recover",
                                "pending>running@2", "running>succeeded@2"])
        #expect(history[2].error == "down" && history[2].errorKind == .transient)
        await engine.shutdown()
    }
}

func expectSinkHoldsEachOnce(sink: String, folder: TemporaryDirectory, items: [String], documents: Int) throws {
    for item in items {
        if sink == "sqlite" {
            let rows = try sqliteSinkRows(folder.path("sink.sqlite")).filter { $0.item == item }
            #expect(rows.map(\.seq) == Array(0..<documents), "sqlite sink rows of \(item)")
        } else {
            #expect(try jsonlSeqs(folder.path("out/\(item).jsonl")) == Array(0..<documents), "jsonl sink lines of \(item)")
        }
    }
}

struct BrokenCollector: Collector {
    func page(after cursor: String?, for item: ItemContext) throws -> Page {
        throw PhaseError.permanent("credentials rejected")
    }
}

/// Counts collectors in flight; each first page waits (up to 60 s, ended as soon as `expected` are
/// in flight) so the test sees real overlap without depending on timing: 400 claims through one
/// writer under ThreadSanitizer beside other suites took more than 5 s.
final class ConcurrencyProbe: Sendable {
    private let state = Locked((current: 0, maximum: 0))
    let expected: Int
    init(expected: Int) { self.expected = expected }
    var maximum: Int { state.withLock { $0.maximum } }

    func enter() {
        state.withLock { $0.current += 1; $0.maximum = max($0.maximum, $0.current) }
        let deadline = Date().addingTimeInterval(TestTime.scaled(60))
        while state.withLock({ $0.maximum }) < expected && Date() < deadline { Thread.sleep(forTimeInterval: 0.002) }
        Thread.sleep(forTimeInterval: 0.01)
    }

    func leave() { state.withLock { $0.current -= 1 } }
}

struct ProbeCollector: Collector {
    let probe: ConcurrencyProbe
    func page(after cursor: String?, for item: ItemContext) throws -> Page {
        probe.enter()
        defer { probe.leave() }
        return Page(documents: [Document(key: "\(item.itemName)-0", body: Data("{}".utf8))], next: nil)
    }
}

final class Recorder<Value: Sendable>: Sendable {
    private let storage = Locked<[Value]>([])
    func append(_ value: Value) { storage.withLock { $0.append(value) } }
    var values: [Value] { storage.withLock { $0 } }
}

