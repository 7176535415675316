import Foundation
import JobEngineTestSupport
import Testing

@testable import JobEngine

/// Issue 15: a poison item (its worker dies every time it runs it) ends as `crash_loop` after
/// `retry.max_recoveries` recoveries in a row instead of being recovered forever, on every store;
/// a manual retry still runs it, with a fresh count.
@Suite(.limit(minutes: 1)) struct PoisonItemTests {
    typealias StoreKind = StoreConformanceTests.StoreKind
    static let dead = "dead-host:1:gone"

    /// Claims the item under a lease that is over at once, as a worker that then died.
    static func claimAndDie(_ store: any JobStore, _ job: Job) async throws {
        guard case .claimed = try store.claimNext(jobID: job.id, specVersion: job.specVersion, owner: dead, leaseSeconds: 0.01,
                                                  onClaim: { _ in }) else { throw EngineError(.unknownJob, "nothing to claim") }
        try await Task.sleep(for: .milliseconds(30))
    }

    static func sweep(_ store: any JobStore) throws -> [UUID] {
        try store.markExpiredInterrupted(now: Date().timeIntervalSince1970 + 1, reason: "lease of {owner} expired") { _, _ in false }
    }

    @Test(arguments: StoreKind.available)
    func anItemWhoseWorkerDiesEveryTimeEndsAsACrashLoopAndAManualRetryStillRunsIt(kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let store = try kind.open(folder)
        defer { store.close() }
        var spec = makeSpec()
        spec.retry.maxRecoveries = 2
        let job = try await store.submit(spec, baseDirectory: folder.url, owner: "submitter", protecting: ProtectedPaths()).job
        let id = try #require(try await store.items(jobID: job.id, status: nil).first?.id)
        for round in 1...2 {
            try await Self.claimAndDie(store, job)
            #expect(try Self.sweep(store) == [id], "round \(round)")
            #expect(try store.interruptedItems() == [id])
            #expect(try await store.retry([id], mode: .recover, origin: .interruption).total == 1)
        }
        try await Self.claimAndDie(store, job)
        #expect(try Self.sweep(store).isEmpty, "the third death in a row is not recovered automatically")
        let poisoned = try #require(try await store.item(id))
        #expect(poisoned.status == .failed && poisoned.errorKind == .crashLoop, "\(poisoned)")
        #expect(poisoned.lastError?.contains("retry.max_recoveries = 2") == true, "\(poisoned.lastError ?? "")")
        #expect(try store.interruptedItems().isEmpty, "resume does not pick it up")
        #expect(try await store.events(itemID: id).last?.errorKind == .crashLoop)
        // The bulk retry by kind finds it; an operator's retry runs it, with a fresh count.
        let matching = try await store.retryMatching(RetryFilter(errorKind: .crashLoop), mode: .recover, dryRun: true,
                                                      scanLimit: 20_000)
        #expect(matching.started == [id])
        #expect(try await store.retry([id], mode: .recover, origin: .manual).total == 1)
        try await Self.claimAndDie(store, job)
        #expect(try Self.sweep(store) == [id])
    }

    /// Deaths that are not in a row do not add up: a run that ends any other way starts the count again.
    @Test(arguments: StoreKind.available)
    func aRunThatEndsStartsTheCountAgain(kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let store = try kind.open(folder)
        defer { store.close() }
        var spec = makeSpec()
        spec.retry.maxRecoveries = 1
        let job = try await store.submit(spec, baseDirectory: folder.url, owner: "submitter", protecting: ProtectedPaths()).job
        let id = try #require(try await store.items(jobID: job.id, status: nil).first?.id)
        for round in 1...3 {
            try await Self.claimAndDie(store, job)
            #expect(try Self.sweep(store) == [id], "round \(round)")
            #expect(try await store.retry([id], mode: .recover, origin: .interruption).total == 1)
            // This time its run fails on its own (a source error), and is retried automatically.
            let claim = try StoreConformanceTests.claim(store, job, owner: "host-a:1:alive")
            _ = try store.stop(itemID: claim.item.id.uuidString.lowercased(), owner: "host-a:1:alive", as: .failed,
                               error: "source down", kind: .transient)
            #expect(try await store.retry([id], mode: .recover, origin: .automatic).total == 1)
        }
        #expect(try await store.item(id)?.errorKind == nil)
    }
}
