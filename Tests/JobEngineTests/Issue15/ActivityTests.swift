import Foundation
import JobEngineTestSupport
import Testing

@testable import JobEngine

/// Issue 15: a job's activity for the page's charts, on every store: documents per second from
/// samples of its totals, failures by minute and kind from its events, and the time left at the
/// rate items succeeded lately.
@Suite(.limit(minutes: 1)) struct ActivityTests {
    typealias StoreKind = StoreConformanceTests.StoreKind
    static let owner = StoreConformanceTests.owner

    @Test(arguments: StoreKind.available)
    func samplesFailuresAndTimeLeft(kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let (store, job) = try await StoreConformanceTests.store(kind, folder, items: ["a", "b", "c", "d"])
        defer { store.close() }
        let start = Date().addingTimeInterval(-60)
        try await store.recordActivitySamples()
        // a collects 30 documents and delivers 10; b fails twice in different ways; c succeeds.
        let a = try StoreConformanceTests.claim(store, job).item.id.uuidString.lowercased()
        _ = try store.commitPage(itemID: a, owner: Self.owner, firstSeq: 0, documents: StoreConformanceTests.documents(0..<30),
                                 nextCursor: nil, sync: .normal)
        _ = try store.commitBatch(itemID: a, owner: Self.owner, ingested: 10, sinkOffset: nil, sync: .normal)
        let b = try StoreConformanceTests.claim(store, job).item
        _ = try store.stop(itemID: b.id.uuidString.lowercased(), owner: Self.owner, as: .failed, error: "HTTP 503", kind: .transient)
        _ = try await store.retry([b.id], mode: .recover)
        let again = try StoreConformanceTests.claim(store, job).item
        #expect(again.id == b.id)
        _ = try store.stop(itemID: b.id.uuidString.lowercased(), owner: Self.owner, as: .failed, error: "bad record", kind: .permanent)
        let c = try StoreConformanceTests.claim(store, job).item.id.uuidString.lowercased()
        _ = try store.finish(itemID: c, owner: Self.owner)
        try await Task.sleep(for: .milliseconds(100))
        try await store.recordActivitySamples()

        let activity = try await store.activity(jobID: job.id, since: start)
        #expect(activity.samples.count == 2)
        #expect(activity.samples.last?.collectedTotal == 30 && activity.samples.last?.ingested == 10)
        let rate = try #require(activity.rates.first)
        #expect(rate.collectedPerSecond > 0 && rate.ingestedPerSecond > 0)
        #expect(abs(rate.collectedPerSecond / rate.ingestedPerSecond - 3) < 0.001, "30 collected and 10 ingested over the same time")
        #expect(activity.failures.map(\.count).reduce(0, +) == 2)
        #expect(Set(activity.failures.compactMap(\.errorKind)) == [.transient, .permanent])
        #expect(activity.recentlySucceeded == 1)
        #expect(activity.itemsLeft == 2, "a running, d pending")
        #expect(activity.secondsLeft == 2 / (1 / JobActivity.recentSeconds))
        // Nothing before the window.
        #expect(try await store.activity(jobID: job.id, since: Date().addingTimeInterval(3600)).samples.isEmpty)
    }

    @Test func aTotalThatWentDownIsNoProgressAndNoRateMeansNoTimeLeft() {
        let t0 = Date(timeIntervalSince1970: 1_000)
        let activity = JobActivity(since: t0, until: t0.addingTimeInterval(60), samples: [
            .init(at: t0, collectedTotal: 100, ingested: 100),
            .init(at: t0.addingTimeInterval(10), collectedTotal: 150, ingested: 20),  // a restart cleared what was delivered
            .init(at: t0.addingTimeInterval(10), collectedTotal: 150, ingested: 20),  // two servers sampled at once
        ], failures: [], recentlySucceeded: 0, itemsLeft: 5)
        #expect(activity.rates.map(\.collectedPerSecond) == [5])
        #expect(activity.rates.map(\.ingestedPerSecond) == [0])
        #expect(activity.secondsLeft == nil)
    }
}
