import Foundation
import Testing

@testable import JobEngine
@testable import JobEnginePostgres

/// The reaper of a PostgreSQL store: a process never claims an item one of its threads still
/// holds. (Poison items, on both stores: `PoisonItemTests`.)
@Suite(.enabled(if: TestPostgres.url != nil || TestPostgres.required, TestPostgres.skipNote))
struct PostgresReaperTests {
    static let dead = "dead-host:1:gone"

    /// Claims the item under a lease that is over at once, as a worker that then died.
    static func claimAndDie(_ store: PostgresStore, _ job: Job) async throws {
        guard case .claimed = try store.claimNext(jobID: job.id, specVersion: job.specVersion, owner: dead, leaseSeconds: 0.01,
                                                  onClaim: { _ in }) else { throw EngineError(.unknownJob, "nothing to claim") }
        try await Task.sleep(for: .milliseconds(30))
    }

    /// A worker cut off past its lease (another host's reaper took its item back, and it was
    /// queued again) must not claim the item again while a thread of it still runs it: the stale
    /// thread would commit under the new claim's fence. Its next commit is refused and only then
    /// may the process claim the item again.
    @Test func aProcessNeverClaimsAnItemOneOfItsThreadsStillHolds() async throws {
        let folder = try TemporaryDirectory()
        let url = try TestPostgres.freshURL()
        let quiet = quietLogger
        let worker = try PostgresStore(PostgresLocation(url: url), hostID: "host-a", logger: quiet)
        let otherHost = try PostgresStore(PostgresLocation(url: url), hostID: "host-b", logger: quiet)
        defer {
            worker.close()
            otherHost.close()
        }
        let job = try await worker.submit(makeSpec(), baseDirectory: folder.url, owner: "submitter", protecting: ProtectedPaths()).job
        let owner = "host-a:1:engine"
        func claim() throws -> String? {
            guard case .claimed(let claimed) = try worker.claimNext(jobID: job.id, specVersion: job.specVersion, owner: owner,
                                                                    leaseSeconds: 0.01, onClaim: { _ in }) else { return nil }
            return claimed.item.id.uuidString.lowercased()
        }
        let id = try #require(try claim())
        try await Task.sleep(for: .milliseconds(30))
        let reaped = try otherHost.markExpiredInterrupted(now: 0, reason: "lease of {owner} expired") { _, _ in false }
        #expect(reaped.map { $0.uuidString.lowercased() } == [id])
        #expect(try await otherHost.retry(reaped, mode: .recover, origin: .interruption).total == 1)
        #expect(try claim() == nil, "not while a thread of this process still holds it")
        #expect(throws: LeaseLost.self, "the cut-off thread's page is refused") {
            try worker.commitPage(itemID: id, owner: owner, firstSeq: 0, documents: [Document(key: "k", body: Data("{}".utf8))],
                                  nextCursor: "1", note: nil, sync: .normal)
        }
        #expect(try claim() == id, "once that thread let go, the process may take it again")
        #expect(try worker.commitPage(itemID: id, owner: owner, firstSeq: 0, documents: [], nextCursor: "0", note: nil, sync: .normal)
            .jobCancelled == false)
    }

    @Test func oneWorkerReapsAtATime() async throws {
        let folder = try TemporaryDirectory()
        let store = try TestPostgres.freshStore()
        defer { store.close() }
        let job = try await store.submit(makeSpec(), baseDirectory: folder.url, owner: "submitter", protecting: ProtectedPaths()).job
        try await Self.claimAndDie(store, job)
        // Another worker is reaping: it holds the reaper's lock in its transaction.
        let holding = Locked(false)
        let release = Locked(false)
        let other = Thread {
            try? store.sessions.transaction { db in
                try db.execute("SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ' reaper', 0))")
                holding.withLock { $0 = true }
                while !release.withLock({ $0 }) { Thread.sleep(forTimeInterval: 0.005) }
            }
        }
        other.start()
        while !holding.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
        #expect(try store.markExpiredInterrupted(now: 0, reason: "expired") { _, _ in false }.isEmpty, "it leaves the reaping to the other")
        #expect(try await store.items(jobID: job.id, status: .running).count == 1)
        release.withLock { $0 = true }
        var marked: [UUID] = []
        for _ in 0..<200 where marked.isEmpty {
            marked = try store.markExpiredInterrupted(now: 0, reason: "expired") { _, _ in false }
            if marked.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(marked.count == 1, "once the other is done, this one reaps")
    }
}
