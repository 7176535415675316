import Foundation
import JobEngineTestSupport
import Testing

@testable import JobEngine

/// Issue 9, finding 3 (invariant 4): the fingerprint is compared when an item is claimed, so an
/// item whose checkpoints were made under other parameters restarts, never resumes.
@Suite(.limit(minutes: 1)) struct ChangedSpecTests {
    static func spec(documentBytes: Int, maxAttempts: Int = 1, backoff: Int = 10) -> JobSpec {
        var spec = makeSpec(items: ["q"], documents: 100, pageSize: 20, batchSize: 20, maxAttempts: maxAttempts,
                            faults: [FaultSpec(item: "q", phase: .ingest, atDocument: 60)])
        spec.collector.options["document_bytes"] = .number(Double(documentBytes))
        spec.retry.backoffMilliseconds = backoff
        return spec
    }

    /// Every line of the item's sink file, which must hold documents of one size only.
    static func lineLengths(_ folder: TemporaryDirectory) throws -> [Int] {
        try String(contentsOfFile: folder.path("out/q.jsonl"), encoding: .utf8).split(separator: "\n").map(\.utf8.count)
    }

    @Test func finding3_aRecoverQueuedBeforeTheSpecChangedRestartsWhenClaimed() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let job = try await engine.submit(Self.spec(documentBytes: 512), baseDirectory: folder.url).job
        let failed = try #require(try await engine.run(jobID: job.id).items.first)
        #expect(failed.status == .failed && failed.ingested == 60)
        // `retry --enqueue --type recover`, then the spec is run again with another document size.
        #expect(try await engine.retry([failed.id], mode: .recover).total == 1)
        let resubmitted = try await engine.submit(Self.spec(documentBytes: 128), baseDirectory: folder.url)
        #expect(resubmitted.changedItems == ["q"])

        let item = try #require(try await engine.run(jobID: job.id).items.first)
        #expect(item.status == .succeeded)
        #expect(item.collectedTotal == 200)  // collected again from scratch
        #expect(item.notCollectedAgain == 0)
        try expectSinkHoldsEachOnce(sink: "jsonl", folder: folder, items: ["q"], documents: 100)
        #expect(try Self.lineLengths(folder).allSatisfy { $0 < 400 }, "old 512-byte documents are mixed in")
        let history = try await engine.history(itemID: item.id)
        #expect(history.contains { $0.to == .running && $0.mode == .restart && $0.error == Store.restartedForChangedParameters })
        await engine.shutdown()
    }

    @Test func finding3_anItemTheNewSpecNoLongerListsRestartsTooWhenClaimed() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        var first = Self.spec(documentBytes: 512)
        first.items.append(ItemSpec(name: "other"))
        let job = try await engine.submit(first, baseDirectory: folder.url).job
        let failed = try #require(try await engine.run(jobID: job.id).items.first { $0.name == "q" })
        #expect(failed.status == .failed && failed.ingested == 60)
        #expect(try await engine.retry([failed.id], mode: .recover).total == 1)
        // The next version drops "q" from its list and changes the document size.
        var second = Self.spec(documentBytes: 128)
        second.items = [ItemSpec(name: "other")]
        second.faults = []
        _ = try await engine.submit(second, baseDirectory: folder.url)
        let item = try #require(try await engine.run(jobID: job.id).items.first { $0.name == "q" })
        #expect(item.status == .succeeded)
        try expectSinkHoldsEachOnce(sink: "jsonl", folder: folder, items: ["q"], documents: 100)
        #expect(try Self.lineLengths(folder).allSatisfy { $0 < 400 }, "resumed under the new spec on old checkpoints")
        await engine.shutdown()
    }

    @Test func finding3_anAutomaticRetryInItsBackOffRestartsUnderTheNewSpec() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        // An hour's back-off: the test, not the clock, decides when it ends.
        let job = try await engine.submit(Self.spec(documentBytes: 512, maxAttempts: 2, backoff: 3_600_000), baseDirectory: folder.url).job
        let run = Task { try await engine.run(jobID: job.id) }
        // The fault fired; the automatic retry waits in its back-off while the spec changes.
        #expect(try await eventually {
            try engine.store.items(jobID: job.id).first.map { $0.status == .pending && $0.attempt == 2 } ?? false
        })
        _ = try await engine.submit(Self.spec(documentBytes: 128, maxAttempts: 2, backoff: 3_600_000), baseDirectory: folder.url)
        try query(folder.storePath, "UPDATE work_items SET not_before = NULL")  // the back-off ends
        let item = try #require(try await run.value.items.first)
        #expect(item.status == .succeeded)
        try expectSinkHoldsEachOnce(sink: "jsonl", folder: folder, items: ["q"], documents: 100)
        #expect(try Self.lineLengths(folder).allSatisfy { $0 < 400 }, "the retry resumed on the old spec's checkpoints")
        let history = try await engine.history(itemID: item.id)
        #expect(history.contains { $0.to == .running && $0.mode == .restart && $0.error == Store.restartedForChangedParameters })
        await engine.shutdown()
    }
}
