import Foundation
import JobEngineTestSupport
import Testing

@testable import JobEngine

/// Issue 15: retry by filter, on every store: each condition narrows, all must hold, a dry run
/// changes nothing, and a filter matching thousands of items retries them in steps, each once
/// even when two engines send the same filter at once.
@Suite(.limit(minutes: 2)) struct RetryFilterTests {
    typealias StoreKind = StoreConformanceTests.StoreKind
    static let owner = StoreConformanceTests.owner

    /// Items failed as a worker leaves them: a, b transient 503s (a while collecting, b while
    /// ingesting), c permanent, d interrupted, e cancelled, f still pending; the item ids by name.
    static func outage(_ store: any JobStore, _ job: Job) throws -> [String: UUID] {
        var ids: [String: UUID] = [:]
        let endings: [(WorkItemStatus, String, ErrorKind?, Bool)] = [
            (.failed, "HTTP 503 from the source", .transient, false),
            (.failed, "sink said: http 503 Service Unavailable", .transient, true),
            (.failed, "record 7 is not JSON", .permanent, false),
            (.failed, "engine shut down", .interrupted, false),
            (.cancelled, "job cancelled", nil, false),
        ]
        for (status, error, kind, ingesting) in endings {
            let claim = try StoreConformanceTests.claim(store, job)
            let id = claim.item.id.uuidString.lowercased()
            if ingesting {
                _ = try store.commitPage(itemID: id, owner: owner, firstSeq: 0, documents: StoreConformanceTests.documents(0..<3),
                                         nextCursor: nil, sync: .normal)
            }
            _ = try store.stop(itemID: id, owner: owner, as: status, error: error, kind: kind)
            ids[claim.item.name] = claim.item.id
        }
        return ids
    }

    static func names(_ result: RetryResult, _ ids: [String: UUID]) -> [String] {
        result.started.compactMap { id in ids.first { $0.value == id }?.key }.sorted()
    }

    @Test(arguments: StoreKind.available)
    func eachConditionNarrowsAndAllMustHold(kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let (store, job) = try await StoreConformanceTests.store(kind, folder, items: ["a", "b", "c", "d", "e", "f"])
        let ids = try Self.outage(store, job)
        func preview(_ filter: RetryFilter) async throws -> [String] {
            Self.names(try await store.retryMatching(filter, mode: .recover, dryRun: true, scanLimit: 20_000), ids)
        }
        #expect(try await preview(RetryFilter()) == ["a", "b", "c", "d"])
        #expect(try await preview(RetryFilter(jobID: job.id, statuses: [.failed, .cancelled])) == ["a", "b", "c", "d", "e"])
        #expect(try await preview(RetryFilter(statuses: [.cancelled])) == ["e"])
        #expect(try await preview(RetryFilter(statuses: [.pending, .running])) == [], "not statuses a retry starts from")
        #expect(try await preview(RetryFilter(errorKind: .transient)) == ["a", "b"])
        #expect(try await preview(RetryFilter(errorContains: "Http 503")) == ["a", "b"], "any case")
        #expect(try await preview(RetryFilter(errorContains: "50%_")) == [], "the text is not a pattern")
        #expect(try await preview(RetryFilter(errorKind: .transient, phase: .ingest)) == ["b"])
        #expect(try await preview(RetryFilter(errorContains: "503", phase: .collect)) == ["a"])
        #expect(try await preview(RetryFilter(failedSince: Date().addingTimeInterval(-3600))) == ["a", "b", "c", "d"])
        #expect(try await preview(RetryFilter(failedSince: Date().addingTimeInterval(3600))) == [])
        #expect(try await preview(RetryFilter(jobID: UUID())) == [], "another job's")
        // The item list narrows the same way, page by page.
        let kindAndText = try await store.itemsPage(jobID: job.id, status: .failed, errorKind: .transient, errorContains: "503",
                                                    after: nil, limit: 10, scanLimit: 10_000)
        #expect(kindAndText.items.map(\.name) == ["a", "b"] && kindAndText.nextAfter == nil)
        let first = try await store.itemsPage(jobID: job.id, status: nil, errorKind: nil, errorContains: "http", after: nil, limit: 1,
                                              scanLimit: 10_000)
        #expect(first.items.map(\.name) == ["a"])
        let second = try await store.itemsPage(jobID: job.id, status: nil, errorKind: nil, errorContains: "http", after: first.nextAfter,
                                               limit: 1, scanLimit: 10_000)
        #expect(second.items.map(\.name) == ["b"])
        #expect(try await store.itemsPage(jobID: job.id, status: nil, errorKind: .permanent, errorContains: nil, after: nil, limit: 10,
                                           scanLimit: 10_000).items.map(\.name) == ["c"])
        // A dry run changed nothing.
        #expect(try await store.items(jobID: job.id).filter { $0.status == .failed }.count == 4)

        let started = try await store.retryMatching(RetryFilter(errorKind: .transient), mode: .recover, dryRun: false, scanLimit: 20_000)
        #expect(Self.names(started, ids) == ["a", "b"] && started.total == 2 && started.skipped.isEmpty)
        #expect(try await store.item(try #require(ids["a"]))?.status == .pending)
        #expect(try await store.item(try #require(ids["c"]))?.status == .failed)
        // The same filter again: they are pending now, nothing matches, nothing starts twice.
        #expect(try await store.retryMatching(RetryFilter(errorKind: .transient), mode: .recover, dryRun: false, scanLimit: 20_000).total == 0)
        store.close()
    }

    /// 4,000 failed items, half of them 503s: the filter walks them in steps (1,500 per
    /// transaction on SQLite), and two engines retrying by the same filter at once start each once.
    @Test func aFilterOverThousandsOfItemsRetriesEachOnceUnderConcurrency() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let job = try await engine.submit(makeSpec(name: "big", items: (0..<4_000).map { "i\($0)" }, documents: 1),
                                          baseDirectory: folder.url).job
        try query(folder.storePath, """
            UPDATE work_items SET status = 'failed', error_kind = 'transient',
            last_error = CASE WHEN position % 2 = 0 THEN 'HTTP 503' ELSE 'timed out' END
            """)
        let filter = RetryFilter(jobID: job.id, errorContains: "503")
        let preview = try await engine.retryMatching(filter, mode: .recover, dryRun: true)
        #expect(preview.total == 2_000)
        let other = try Engine(storePath: folder.storePath, logger: quietLogger)
        async let first = engine.retryMatching(filter, mode: .recover)
        async let second = other.retryMatching(filter, mode: .restart)
        let (a, b) = try await (first, second)
        #expect(a.total + b.total == 2_000)
        #expect(Set(a.started).isDisjoint(with: b.started))
        let counts = try await engine.jobStatus(job.id)?.counts
        #expect(counts?[.pending] == 2_000 && counts?[.failed] == 2_000)
        let pendingErrors = try query(folder.storePath, "SELECT COUNT(*) AS n FROM work_items WHERE status = 'pending' AND position % 2 = 0")
        #expect(pendingErrors.first?.int("n") == 2_000)
        other.close()
        engine.close()
    }

    /// Another process holds the write lock well past the busy timeout: the bulk retry waits for it
    /// instead of failing after its first step (it did, under ThreadSanitizer's slowness).
    @Test func aBulkRetryWaitsOutAnotherProcesssWriteLock() async throws {
        let folder = try TemporaryDirectory()
        let engine = try contendedEngine(folder)
        let job = try await engine.submit(makeSpec(items: (0..<20).map { "i\($0)" }, documents: 1), baseDirectory: folder.url).job
        try query(folder.storePath, "UPDATE work_items SET status = 'failed', error_kind = 'transient', last_error = 'down'")
        let holder = await WriteLockHolder.take(folder.storePath, for: 1.0)
        let result = try await engine.retryMatching(RetryFilter(jobID: job.id), mode: .recover)
        #expect(result.total == 20)
        await holder.waitReleased()
        engine.close()
    }
}

/// The times a filter takes: ISO 8601 with or without seconds, a date, an age; nothing that would
/// overflow.
@Suite struct TimeTextTests {
    @Test func instantsAndAges() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(TimeText.instant("2026-12-01T10:00Z") == Date(timeIntervalSince1970: 1_796_119_200))
        #expect(TimeText.instant("2026-12-01T10:00:30+01:00") == Date(timeIntervalSince1970: 1_796_115_630))
        #expect(TimeText.instant("2026-12-01T10:00:30.5Z") == Date(timeIntervalSince1970: 1_796_119_230.5))
        #expect(TimeText.instant("2026-12-01") == Date(timeIntervalSince1970: 1_796_083_200))
        #expect(TimeText.instant("2h", now: now) == now.addingTimeInterval(-7_200))
        // RFC 3339 as generators write it: microseconds, lower-case separators.
        #expect(TimeText.instant("2026-12-01t10:00:30.123456z") == Date(timeIntervalSince1970: 1_796_119_230.123))
        #expect(TimeText.instant("2026-12-01T10:00:00+00:00") == Date(timeIntervalSince1970: 1_796_119_200))
        for bad in ["yesterday", "2026-13-01", "2h30m", "-2h", "0d", "200000000000000d", "9223372036854775807s", ""] {
            #expect(TimeText.instant(bad, now: now) == nil, "\(bad)")
        }
    }
}
