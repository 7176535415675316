import Foundation
import JobEngineTestSupport
import Testing

@testable import JobEngine

/// Issue 15 at scale: narrowed item pages and bulk-retry steps look at a bounded number of items
/// each (so a rare error text among a million failures costs each request a bounded walk), yet,
/// followed to the end, they find exactly what an unbounded filter would, in spec order, once each.
/// Checked on every store with look limits small enough that most pages and steps end short, empty
/// even, and go on from where they stopped looking.
@Suite(.limit(minutes: 2)) struct NarrowedWalkTests {
    typealias StoreKind = StoreConformanceTests.StoreKind
    static let owner = StoreConformanceTests.owner

    /// 30 items ended in turn as: failed transient "HTTP 503", failed permanent "bad record",
    /// cancelled; items 4 and 25 instead failed permanent with a rare "Quota exceeded", item 20
    /// succeeded, and item 29 is still pending (never claimed).
    static func outage(_ kind: StoreKind, _ folder: TemporaryDirectory) async throws -> (any JobStore, Job) {
        let (store, job) = try await StoreConformanceTests.store(kind, folder, items: (0..<30).map { "i\($0)" })
        for _ in 0..<29 {
            let claim = try StoreConformanceTests.claim(store, job)
            let id = claim.item.id.uuidString.lowercased()
            let number = Int(claim.item.name.dropFirst()) ?? -1
            if number == 20 {
                _ = try store.finish(itemID: id, owner: owner, sync: .normal)
            } else if number == 4 || number == 25 {
                _ = try store.stop(itemID: id, owner: owner, as: .failed, error: "Quota exceeded for key k", kind: .permanent)
            } else if number % 3 == 0 {
                _ = try store.stop(itemID: id, owner: owner, as: .failed, error: "HTTP 503", kind: .transient)
            } else if number % 3 == 1 {
                _ = try store.stop(itemID: id, owner: owner, as: .failed, error: "bad record", kind: .permanent)
            } else {
                _ = try store.stop(itemID: id, owner: owner, as: .cancelled, error: "job cancelled", kind: nil)
            }
        }
        return (store, job)
    }

    /// Every page of a narrowed list, followed to the end: the names in order.
    static func walkPages(_ store: any JobStore, _ job: Job, status: WorkItemStatus?, kind: ErrorKind?, text: String?,
                          limit: Int, scanLimit: Int) async throws -> (names: [String], shortPagesGoingOn: Int) {
        var names: [String] = []
        var after: Int?
        var shortPagesGoingOn = 0
        var pages = 0
        repeat {
            let page = try await store.itemsPage(jobID: job.id, status: status, errorKind: kind, errorContains: text, after: after,
                                                 limit: limit, scanLimit: scanLimit)
            #expect(page.items.count <= limit)
            if page.items.count < limit && page.nextAfter != nil { shortPagesGoingOn += 1 }
            if let next = page.nextAfter, let before = after { #expect(next > before, "a page went back") }
            names += page.items.map(\.name)
            after = page.nextAfter
            pages += 1
        } while after != nil && pages < 200
        #expect(pages < 200, "the pages never ended")
        return (names, shortPagesGoingOn)
    }

    @Test(arguments: StoreKind.available)
    func narrowedPagesFollowedToTheEndFindExactlyTheMatches(kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let (store, job) = try await Self.outage(kind, folder)
        let all = try await store.items(jobID: job.id, status: nil)
        #expect(all.count == 30 && all.first { $0.name == "i29" }?.status == .pending)
        let narrowings: [(WorkItemStatus?, ErrorKind?, String?)] = [
            (nil, nil, "quota"), (.failed, nil, "QUOTA"), (nil, .permanent, nil), (.failed, .permanent, "quota"),
            (.failed, .transient, nil), (.cancelled, nil, "cancelled"), (.cancelled, .transient, nil), (nil, nil, "503"),
            (.succeeded, nil, nil), (nil, .crashLoop, nil), (nil, nil, "no such text"),
        ]
        var shortPages = 0
        for (status, errorKind, text) in narrowings {
            let expected = all.filter { item in
                (status == nil || item.status == status) && (errorKind == nil || item.errorKind == errorKind)
                    && (text == nil || item.lastError?.lowercased().contains(text!.lowercased()) == true)
            }.map(\.name)
            for (limit, scanLimit) in [(100, 10_000), (1, 1), (2, 3), (3, 7), (100, 4)] {
                let walked = try await Self.walkPages(store, job, status: status, kind: errorKind, text: text, limit: limit,
                                                      scanLimit: scanLimit)
                #expect(walked.names == expected, "\(String(describing: status)) \(String(describing: errorKind)) \(text ?? "") limit \(limit) scan \(scanLimit)")
                shortPages += walked.shortPagesGoingOn
            }
        }
        #expect(shortPages > 0, "no page ended its look before finding a full page: the bound was never exercised")
        store.close()
    }

    @Test(arguments: StoreKind.available)
    func bulkRetryStepsWithABoundedLookRetryExactlyTheMatchesOnce(kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let (store, job) = try await Self.outage(kind, folder)
        let all = try await store.items(jobID: job.id, status: nil)
        func names(_ result: RetryResult) -> [String] {
            result.started.compactMap { id in all.first { $0.id == id }?.name }.sorted()
        }
        func expected(_ filter: RetryFilter) -> [String] {
            all.filter { item in
                filter.statuses.contains(item.status) && (filter.errorKind == nil || item.errorKind == filter.errorKind)
                    && (filter.errorContains == nil || item.lastError?.lowercased().contains(filter.errorContains!.lowercased()) == true)
            }.map(\.name).sorted()
        }
        let filters = [
            RetryFilter(jobID: job.id, errorContains: "quota"),
            RetryFilter(jobID: job.id, statuses: [.failed, .cancelled]),
            RetryFilter(jobID: job.id, statuses: [.failed, .cancelled], errorContains: "c"),
            RetryFilter(jobID: job.id, errorKind: .permanent),
            RetryFilter(jobID: job.id, errorKind: .permanent, errorContains: "record"),
            RetryFilter(statuses: [.failed, .cancelled], errorKind: .transient),
        ]
        for filter in filters {
            for scanLimit in [1, 2, 5, 20_000] {
                let preview = try await store.retryMatching(filter, mode: .recover, dryRun: true, scanLimit: scanLimit)
                #expect(names(preview) == expected(filter), "\(filter) look \(scanLimit)")
                #expect(preview.total == expected(filter).count && preview.skipped.isEmpty)
            }
        }
        // A real one, failed and cancelled items with a rare text or none, each step looking at 2.
        let both = RetryFilter(jobID: job.id, statuses: [.failed, .cancelled], errorContains: "quota")
        let started = try await store.retryMatching(both, mode: .restart, dryRun: false, scanLimit: 2)
        #expect(names(started) == ["i25", "i4"] && started.total == 2)
        let cancelled = try await store.retryMatching(RetryFilter(jobID: job.id, statuses: [.cancelled]), mode: .restart,
                                                      dryRun: false, scanLimit: 3)
        let wereCancelled = expected(RetryFilter(statuses: [.cancelled]))
        #expect(names(cancelled) == wereCancelled && wereCancelled.count == 8)
        let counts = try await store.jobStatus(job.id)?.counts
        #expect(counts?[.pending] == 1 + 2 + 8 && counts?[.cancelled] == nil)
        #expect(try await store.retryMatching(both, mode: .restart, dryRun: false, scanLimit: 2).total == 0, "nothing twice")
        store.close()
    }
}
