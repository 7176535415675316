import Foundation
import JobEngineTestSupport
import Testing

@testable import JobEngine

/// Issue 12: a job's counts and document totals are counters the item triggers keep; after any mix
/// of runs, failures, retries, cancels and resubmits they equal a GROUP BY over its items.
@Suite(.limit(minutes: 2)) struct JobCountersTests {
    static func expectCountersMatchItems(_ path: String, _ comment: Comment) throws {
        let counters = try query(path, """
            SELECT id, pending_items, running_items, succeeded_items, failed_items, cancelled_items, collected, ingested,
            collected_total FROM jobs ORDER BY id
            """).map { row in
            ["pending_items", "running_items", "succeeded_items", "failed_items", "cancelled_items", "collected", "ingested",
             "collected_total"].map { row.int($0) }
        }
        let counted = try query(path, """
            SELECT j.id,
            (SELECT COUNT(*) FROM work_items w WHERE w.job_id = j.id AND w.status = 'pending') AS a,
            (SELECT COUNT(*) FROM work_items w WHERE w.job_id = j.id AND w.status = 'running') AS b,
            (SELECT COUNT(*) FROM work_items w WHERE w.job_id = j.id AND w.status = 'succeeded') AS c,
            (SELECT COUNT(*) FROM work_items w WHERE w.job_id = j.id AND w.status = 'failed') AS d,
            (SELECT COUNT(*) FROM work_items w WHERE w.job_id = j.id AND w.status = 'cancelled') AS e,
            (SELECT COALESCE(SUM(collected), 0) FROM work_items w WHERE w.job_id = j.id) AS f,
            (SELECT COALESCE(SUM(ingested), 0) FROM work_items w WHERE w.job_id = j.id) AS g,
            (SELECT COALESCE(SUM(collected_total), 0) FROM work_items w WHERE w.job_id = j.id) AS h
            FROM jobs j ORDER BY j.id
            """).map { row in ["a", "b", "c", "d", "e", "f", "g", "h"].map { row.int($0) } }
        #expect(counters == counted, comment)
    }

    @Test(arguments: [1, 2, 3])
    func countersEqualAGroupByThroughRandomizedRunsAndRetries(seed: UInt64) async throws {
        var random = SeededRandom(seed: seed)
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let names = (0..<24).map { "i\($0)" }
        let faults = names.filter { _ in random.next() % 3 == 0 }.map { name in
            FaultSpec(item: name, phase: random.next() % 2 == 0 ? .collect : .ingest, atDocument: Int(random.next() % 60),
                      times: Int(random.next() % 3) + 1)
        }
        var spec = makeSpec(items: names, documents: 60, pageSize: 20, batchSize: 25, maxAttempts: Int(random.next() % 2) + 1,
                            faults: faults)
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        try Self.expectCountersMatchItems(folder.storePath, "after submit")
        for round in 0..<4 {
            let summary = try await engine.run(jobID: job.id)
            try Self.expectCountersMatchItems(folder.storePath, "after run \(round)")
            let failed = summary.items.filter { $0.status == .failed }.map(\.id)
            guard !failed.isEmpty else { break }
            _ = try await engine.retry(failed.filter { _ in random.next() % 4 != 0 }, mode: random.next() % 2 == 0 ? .recover : .restart)
            try Self.expectCountersMatchItems(folder.storePath, "after retry \(round)")
            if round == 1 {
                spec.collector.options["document_bytes"] = 80  // a resubmit that changes parameters
                spec.items.append(ItemSpec(name: "late\(round)"))
                _ = try await engine.submit(spec, baseDirectory: folder.url)
                try Self.expectCountersMatchItems(folder.storePath, "after resubmit")
            }
        }
        _ = try await engine.cancel(jobID: job.id)
        try Self.expectCountersMatchItems(folder.storePath, "after cancel")
        let status = try #require(try await engine.jobStatus(job.id))
        #expect(status.itemCount == spec.items.count)
        engine.close()
    }
}

/// SplitMix64: the same sequence for the same seed, so a failing case can be run again.
struct SeededRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
