import Foundation
import JobEngineTestSupport
import Testing

@testable import JobEngine

/// Issue 12: retrying every failed item of a job runs in steps, in time linear in the items, and
/// concurrent bulk retries start each item once.
@Suite(.limit(minutes: 2)) struct BulkRetryTests {
    @Test func everyFailedItemIsRetriedOnceEvenByTwoEnginesAtOnce() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let big = try await engine.submit(makeSpec(name: "big", items: (0..<2_500).map { "i\($0)" }, documents: 1),
                                          baseDirectory: folder.url).job
        let small = try await engine.submit(makeSpec(name: "small", items: (0..<10).map { "s\($0)" }, documents: 1),
                                            baseDirectory: folder.url).job
        // Failed as a worker leaves them (the triggers keep the counters), except five items of big.
        try query(folder.storePath, """
            UPDATE work_items SET status = 'failed', error_kind = 'transient', last_error = 'source down'
            WHERE name NOT IN ('i0', 'i7', 'i100', 'i2001', 'i2499')
            """)

        let preview = try await engine.retryFailed(jobID: big.id, mode: .recover, dryRun: true)
        #expect(preview.total == 2_495 && preview.skipped.isEmpty)
        #expect(try await engine.jobStatus(big.id)?.counts[.failed] == 2_495)  // a dry run changes nothing

        let other = try Engine(storePath: folder.storePath, logger: quietLogger)
        async let first = engine.retryFailed(jobID: big.id, mode: .recover)
        async let second = other.retryFailed(jobID: big.id, mode: .restart)
        let (a, b) = try await (first, second)
        #expect(a.total + b.total == 2_495)
        #expect(Set(a.started).isDisjoint(with: b.started))
        #expect(try await engine.jobStatus(big.id)?.counts == [.pending: 2_500])
        #expect(try query(folder.storePath, "SELECT COUNT(*) AS n FROM events WHERE from_status = 'failed' AND to_status = 'pending'")
            .first?.int("n") == 2_495)

        // Without a job: every job's failed items (only small's are left).
        let rest = try await engine.retryFailed(mode: .restart)
        let smallItems = Set(try await engine.items(jobID: small.id).map(\.id))
        #expect(rest.total == 10 && Set(rest.started) == smallItems)
        other.close()
        engine.close()
    }

    @Test func recoverSkipsItemsWhoseParametersChangedAndSaysWhy() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        var spec = makeSpec(items: ["a", "b"], documents: 1)
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        _ = try await engine.run(jobID: job.id)
        try query(folder.storePath, "UPDATE work_items SET status = 'failed', error_kind = 'transient'")
        spec.collector.options["document_bytes"] = 99
        _ = try await engine.submit(spec, baseDirectory: folder.url)
        let result = try await engine.retryFailed(jobID: job.id, mode: .recover)
        #expect(result.total == 0 && result.skipped.map(\.reason) == [.parametersChanged, .parametersChanged])
        #expect(try await engine.retryFailed(jobID: job.id, mode: .restart).total == 2)
        engine.close()
    }
}
