import Foundation
import Testing

@testable import JobEngine

@Suite struct RetryTests {
    /// A store with one succeeded item ("ok") and one failed item ("bad").
    private func storeWithOneFailure(_ folder: TemporaryDirectory) async throws -> (Engine, Job, ok: WorkItem, bad: WorkItem) {
        let engine = try Engine(storePath: folder.storePath)
        let spec = makeSpec(items: ["ok", "bad"], documents: 100,
                            faults: [FaultSpec(item: "bad", phase: .ingest, atDocument: 50, message: "sink timed out")])
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        let items = try await engine.run(jobID: job.id).items
        let ok = try #require(items.first { $0.name == "ok" })
        let bad = try #require(items.first { $0.name == "bad" })
        try #require(ok.status == .succeeded && bad.status == .failed)
        return (engine, job, ok, bad)
    }

    @Test func retryOfSucceededRunningOrUnknownItemsCountsZeroWithReasons() async throws {
        let folder = try TemporaryDirectory()
        let (engine, job, ok, bad) = try await storeWithOneFailure(folder)
        let unknown = UUID()
        // Make "bad" running under a live owner by claiming it through the store directly.
        _ = try await engine.retry([bad.id], mode: .recover)
        let claim = try #require(try claimDirectly(engine, jobID: job.id))
        #expect(claim.item.id == bad.id)

        for mode in RetryMode.allCases {
            let result = try await engine.retry([ok.id, bad.id, unknown], mode: mode)
            #expect(result.total == 0)
            #expect(result.started.isEmpty)
            #expect(result.skipped == [
                .init(id: ok.id, reason: .notRetryable(.succeeded)),
                .init(id: bad.id, reason: .notRetryable(.running)),
                .init(id: unknown, reason: .unknown),
            ])
        }
        #expect(RetryResult.SkipReason.notRetryable(.running).description == "not failed or cancelled (status: running)")
        // Nothing changed: the succeeded item kept its attempt and history.
        #expect(try await engine.item(ok.id)?.attempt == 1)
        #expect(try await engine.history(itemID: ok.id).count == 3)
        engine.close()
    }

    @Test func retryingTheSameIdTwiceInOneCallStartsItOnce() async throws {
        let folder = try TemporaryDirectory()
        let (engine, _, _, bad) = try await storeWithOneFailure(folder)
        let result = try await engine.retry([bad.id, bad.id], mode: .recover)
        #expect(result.total == 1)
        #expect(result.skipped == [.init(id: bad.id, reason: .notRetryable(.pending))])
        engine.close()
    }

    @Test func threadsRacingToRetryTheSameItemStartItOnce() async throws {
        let folder = try TemporaryDirectory()
        let (engine, job, _, bad) = try await storeWithOneFailure(folder)
        // Separate engines on the same file, like separate processes: each has its own writer
        // connection, so only SQLite's transaction decides who wins.
        let engines = try (0..<4).map { _ in try Engine(storePath: folder.storePath) }
        for round in 0..<10 {
            let totals = Locked<[Int]>([])
            let start = DispatchSemaphore(value: 0)
            let group = DispatchGroup()
            for (index, other) in (engines + [engine]).enumerated() {
                for mode in RetryMode.allCases {
                    DispatchQueue.global().async(group: group) {
                        start.wait()
                        let total = (try? (index % 2 == 0 ? other.store : engine.store).retry([bad.id], mode: mode).total) ?? -1
                        totals.withLock { $0.append(total) }
                    }
                }
            }
            for _ in 0..<10 { start.signal() }
            await withCheckedContinuation { continuation in group.notify(queue: .global()) { continuation.resume() } }
            #expect(totals.withLock { $0.sorted() } == [0, 0, 0, 0, 0, 0, 0, 0, 0, 1], "round \(round)")
            // Fail it again for the next round.
            let claim = try #require(try claimDirectly(engine, jobID: job.id))
            _ = try engine.store.stop(itemID: claim.item.id.uuidString.lowercased(), owner: engine.owner, as: .failed,
                                      error: "again", kind: .transient)
        }
        let history = try await engine.history(itemID: bad.id)
        #expect(history.filter { $0.to == .pending && $0.mode != nil }.count == 10)
        #expect(try await engine.item(bad.id)?.attempt == 11)
        for other in engines { other.close() }
        engine.close()
    }

    @Test func changedParametersRefuseRecoverAndAllowRestart() async throws {
        let folder = try TemporaryDirectory()
        let (engine, job, _, bad) = try await storeWithOneFailure(folder)

        // Operational settings do not change the fingerprint: recover stays allowed.
        // A stored job's spec holds its settings; its items are its work items.
        var spec = job.spec
        #expect(spec.items.isEmpty)
        spec.items = try await engine.items(jobID: job.id).map { ItemSpec(name: $0.name, params: $0.parameters) }
        spec.concurrency = 1
        spec.retry.maxAttempts = 2
        #expect(try await engine.submit(spec, baseDirectory: folder.url).changedItems.isEmpty)
        #expect(try await engine.retryPreview([bad.id], mode: .recover).total == 1)

        // Data settings do: recover is refused with the reason, and nothing changes.
        spec.collector.options["document_bytes"] = 128
        let submitted = try await engine.submit(spec, baseDirectory: folder.url)
        #expect(submitted.job.specVersion == 3)
        #expect(Set(submitted.changedItems) == ["ok", "bad"])
        let refused = try await engine.retry([bad.id], mode: .recover)
        #expect(refused.total == 0)
        #expect(refused.skipped == [.init(id: bad.id, reason: .parametersChanged)])
        #expect(refused.skipped[0].reason.description == "parameters changed; use restart")
        #expect(try await engine.item(bad.id)?.status == .failed)

        let restarted = try await engine.retry([bad.id], mode: .restart)
        #expect(restarted.total == 1)
        let item = try #require(try await engine.run(jobID: job.id).items.first { $0.name == "bad" })
        #expect(item.status == .succeeded)
        let lines = try String(contentsOfFile: folder.path("out/bad.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 100)
        // Every document was written with the new parameters (128-byte bodies), none with the old.
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let data = try JSONSerialization.data(withJSONObject: try #require(object["data"]))
            #expect(data.count == 128)
        }
        // After the restart the checkpoints match the current parameters again: recover is possible.
        #expect(try query(folder.storePath, "SELECT checkpoint_fingerprint = params_fingerprint AS same FROM work_items WHERE name = 'bad'").first?.int("same") == 1)
        engine.close()
    }

    @Test func cancelledItemsCanBeRetried() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath)
        let job = try await engine.submit(makeSpec(items: ["a", "b"]), baseDirectory: folder.url).job
        #expect(try await engine.cancel(jobID: job.id) == 2)
        let cancelled = try await engine.items(jobID: job.id)
        #expect(cancelled.allSatisfy { $0.status == .cancelled })
        #expect(try await engine.run(jobID: job.id).cancelled.count == 2)  // nothing runs in a cancelled job

        let result = try await engine.retry(cancelled.map(\.id), mode: .recover)
        #expect(result.total == 2)
        #expect(try await engine.run(jobID: job.id).allSucceeded)
        engine.close()
    }
}
