import Foundation
import JobEngineTestSupport
import Testing

@testable import JobEngine

/// The store seam's conformance suite: every invariant a store must hold, checked only through
/// ``JobStore``, against every implementation (SQLite in memory and in a WAL file today; a second
/// store, PostgreSQL, adds itself to `StoreKind` and gets the same tests).
@Suite(.limit(minutes: 1)) struct StoreConformanceTests {
    enum StoreKind: String, CaseIterable, CustomTestStringConvertible {
        case sqliteMemory, sqliteFile, postgres
        var testDescription: String { rawValue }

        /// The stores to test: PostgreSQL when a server is given (`.ci/run` starts one), or when
        /// CI requires it (then its absence fails each case instead of skipping it).
        static var available: [StoreKind] {
            TestPostgres.url != nil || TestPostgres.required ? allCases : [.sqliteMemory, .sqliteFile]
        }

        func open(_ folder: TemporaryDirectory) throws -> any JobStore {
            switch self {
            case .sqliteMemory: return try Store(path: ":memory:")
            case .sqliteFile: return try Store(path: folder.storePath)
            case .postgres: return try TestPostgres.freshStore()
            }
        }
    }

    static let owner = "host-a:1:owner-a"

    /// A store with one job of `items`, and the job.
    static func store(_ kind: StoreKind, _ folder: TemporaryDirectory, items: [String] = ["a"], documentBytes: Int = 64)
        async throws -> (any JobStore, Job)
    {
        let store = try kind.open(folder)
        var spec = makeSpec(items: items)
        spec.collector.options["document_bytes"] = .number(Double(documentBytes))
        let job = try await store.submit(spec, baseDirectory: folder.url, owner: Self.owner, protecting: ProtectedPaths()).job
        return (store, job)
    }

    static func claim(_ store: any JobStore, _ job: Job, owner: String = owner, lease: Double = 30) throws -> ClaimedItem {
        guard case .claimed(let claim) = try store.claimNext(jobID: job.id, specVersion: job.specVersion, owner: owner,
                                                            leaseSeconds: lease, onClaim: { _ in }) else {
            throw TestFailure(message: "nothing to claim")
        }
        return claim
    }

    /// A store with one job whose one item is claimed by ``owner``, and the item's id as the store spells it.
    static func claimedItem(_ kind: StoreKind, _ folder: TemporaryDirectory) async throws -> (any JobStore, Job, ClaimedItem, String) {
        let (store, job) = try await Self.store(kind, folder)
        let claimed = try Self.claim(store, job)
        return (store, job, claimed, claimed.item.id.uuidString.lowercased())
    }

    static func documents(_ range: Range<Int>) -> [Document] {
        range.map { Document(key: "k\($0)", body: Data("{\"n\":\($0)}".utf8)) }
    }

    struct TestFailure: Error { let message: String }

    @Test(arguments: StoreKind.available)
    func invariant1_aPageIsStagedWithItsCursorOrNotAtAll(kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let (store, _, claim, id) = try await Self.claimedItem(kind, folder)
        _ = try store.commitPage(itemID: id, owner: Self.owner, firstSeq: 0, documents: Self.documents(0..<5), nextCursor: "5", sync: .normal)
        #expect(try store.stagedDocuments(itemID: id, from: 0, limit: 100).map(\.seq) == Array(0..<5))
        #expect(try await store.checkpoints(itemID: claim.item.id).first?.cursor == "5")
        // A page of a worker that does not hold the lease: neither its documents nor its cursor.
        #expect(throws: LeaseLost.self) {
            try store.commitPage(itemID: id, owner: "host-b:2:other", firstSeq: 5, documents: Self.documents(5..<9), nextCursor: "9", sync: .normal)
        }
        #expect(try store.stagedDocuments(itemID: id, from: 0, limit: 100).map(\.seq) == Array(0..<5))
        #expect(try await store.checkpoints(itemID: claim.item.id).first?.cursor == "5")
        #expect(try await store.item(claim.item.id)?.collected == 5)
        store.close()
    }

    /// Outside work (a vendor's snapshot) belongs to the first item and attempt chain that claims
    /// it; only a worker holding the item's lease can claim.
    @Test(arguments: StoreKind.available)
    func claimedWorkBelongsToOneItemAndAttemptChain(kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let (store, job) = try await Self.store(kind, folder, items: ["a", "b"])
        let a = try Self.claim(store, job).item.id.uuidString.lowercased()
        let b = try Self.claim(store, job, owner: "host-b:2:owner-b").item.id.uuidString.lowercased()
        #expect(try store.claimWork("vendor s_1", token: "intent 1", itemID: a, owner: Self.owner))
        #expect(try store.claimWork("vendor s_1", token: "intent 1", itemID: a, owner: Self.owner), "claiming again is idempotent")
        #expect(try !store.claimWork("vendor s_1", token: "intent 2", itemID: a, owner: Self.owner), "another attempt chain's")
        #expect(try !store.claimWork("vendor s_1", token: "intent 1", itemID: b, owner: "host-b:2:owner-b"), "another item's")
        #expect(try store.claimWork("vendor s_2", token: "intent 1", itemID: b, owner: "host-b:2:owner-b"))
        #expect(throws: LeaseLost.self) {
            try store.claimWork("vendor s_3", token: "intent 1", itemID: a, owner: "host-b:2:owner-b")
        }
        #expect(try store.claimWork("vendor s_3", token: "intent 1", itemID: a, owner: Self.owner), "the lease-less claim recorded nothing")
        store.close()
    }

    @Test(arguments: StoreKind.available)
    func invariant1_aBatchCheckpointRecordsItsSinkOffsetAndDropsTheDeliveredCopies(kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let (store, _, claim, id) = try await Self.claimedItem(kind, folder)
        _ = try store.commitPage(itemID: id, owner: Self.owner, firstSeq: 0, documents: Self.documents(0..<10), nextCursor: nil, sync: .full)
        #expect(try await store.item(claim.item.id)?.phase == .ingest)
        _ = try store.commitBatch(itemID: id, owner: Self.owner, ingested: 4, sinkOffset: 400, sync: .normal)
        #expect(try await store.checkpoints(itemID: claim.item.id).first { $0.phase == .ingest }?.sinkOffset == 400)
        #expect(try store.stagedDocuments(itemID: id, from: 0, limit: 100).map(\.seq) == Array(4..<10))
        let finished = try store.finish(itemID: id, owner: Self.owner)
        #expect(finished.status == .succeeded && finished.leaseOwner == nil)
        #expect(try store.stagedDocuments(itemID: id, from: 0, limit: 100).isEmpty)
        store.close()
    }

    @Test(arguments: StoreKind.available)
    func invariant3_concurrentRetriesStartAnItemOnce(kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let (store, _, claim, id) = try await Self.claimedItem(kind, folder)
        _ = try store.stop(itemID: id, owner: Self.owner, as: .failed, error: "down", kind: .transient)
        let totals = Locked<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            let total = (try? store.retry([claim.item.id], mode: .recover).total) ?? -1
            totals.withLock { $0.append(total) }
        }
        #expect(totals.withLock { $0.sorted() } == [0, 0, 0, 0, 0, 0, 0, 1])
        #expect(try await store.events(itemID: claim.item.id).filter { $0.from == .failed && $0.to == .pending }.count == 1)
        #expect(try await store.retry([UUID()], mode: .restart).skipped.map(\.reason) == [.unknown])
        store.close()
    }

    @Test(arguments: StoreKind.available)
    func invariant4_recoverNeverResumesCheckpointsOfOtherParameters(kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let (store, job, claim, id) = try await Self.claimedItem(kind, folder)
        _ = try store.commitPage(itemID: id, owner: Self.owner, firstSeq: 0, documents: Self.documents(0..<5), nextCursor: "5", sync: .normal)
        _ = try store.stop(itemID: id, owner: Self.owner, as: .failed, error: "down", kind: .transient)
        #expect(try await store.retry([claim.item.id], mode: .recover).total == 1)  // queued under the old parameters
        var changed = makeSpec(items: ["a"])
        changed.collector.options["document_bytes"] = 999
        let resubmitted = try await store.submit(changed, baseDirectory: folder.url, owner: Self.owner, protecting: ProtectedPaths())
        #expect(resubmitted.changedItems == ["a"])
        // The claim compares fingerprints: the item restarts, its checkpoints and staged copies gone.
        let reclaimed = try Self.claim(store, resubmitted.job)
        #expect(reclaimed.restartedForChangedParameters && reclaimed.needsSinkReset && reclaimed.collectCursor == nil)
        #expect(reclaimed.item.collected == 0 && reclaimed.item.phase == .collect)
        #expect(try store.stagedDocuments(itemID: id, from: 0, limit: 100).isEmpty)
        // A claim under a spec version that is no longer current finds nothing to run.
        _ = try store.stop(itemID: id, owner: Self.owner, as: .failed, error: "again", kind: .transient)
        #expect(try await store.retry([claim.item.id], mode: .restart).total == 1)
        guard case .specChanged = try store.claimNext(jobID: job.id, specVersion: job.specVersion, owner: Self.owner,
                                                      leaseSeconds: 30, onClaim: { _ in }) else {
            Issue.record("a claim under spec version 1 ran an item of version 2")
            return
        }
        store.close()
    }

    @Test(arguments: StoreKind.available)
    func invariant5_everyTransitionIsRecordedInOrder(kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let (store, job, first, id) = try await Self.claimedItem(kind, folder)
        _ = try store.stop(itemID: id, owner: Self.owner, as: .failed, error: "down", kind: .transient)
        _ = try await store.retry([first.item.id], mode: .restart)
        _ = try Self.claim(store, job)
        _ = try store.finish(itemID: id, owner: Self.owner)
        let events = try await store.events(itemID: first.item.id)
        #expect(events.map { "\($0.from?.rawValue ?? "-")>\($0.to.rawValue)" }
                == ["->pending", "pending>running", "running>failed", "failed>pending", "pending>running", "running>succeeded"])
        #expect(events[2].error == "down" && events[2].errorKind == .transient && events[3].mode == .restart)
        #expect(events.map(\.attempt) == [1, 1, 1, 2, 2, 2])
        store.close()
    }

    @Test(arguments: StoreKind.available)
    func invariant7_aSinkTargetBelongsToOneJob(kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let store = try kind.open(folder)
        let alpha = makeSpec(name: "alpha")
        _ = try await store.submit(alpha, baseDirectory: folder.url, owner: Self.owner, protecting: ProtectedPaths())
        let beta = makeSpec(name: "beta")
        let error = try await #require(throws: EngineError.self) {
            try await store.submit(beta, baseDirectory: folder.url, owner: Self.owner, protecting: ProtectedPaths())
        }
        #expect(error.problems.first?.message.contains("belongs to job alpha") == true)
        #expect(try await store.job("beta") == nil)
        store.close()
    }

    @Test(arguments: StoreKind.available)
    func invariant8_aWorkerThatLostItsLeaseNeverCommits(kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let (store, _, claim, id) = try await Self.claimedItem(kind, folder)
        // Another worker's sweep judged the owner dead.
        #expect(try store.markInterrupted(owner: Self.owner, reason: "its worker died") == [claim.item.id])
        #expect(throws: LeaseLost.self) {
            try store.commitPage(itemID: id, owner: Self.owner, firstSeq: 0, documents: Self.documents(0..<3), nextCursor: "3", sync: .normal)
        }
        #expect(throws: LeaseLost.self) { try store.commitBatch(itemID: id, owner: Self.owner, ingested: 3, sinkOffset: nil, sync: .normal) }
        #expect(throws: LeaseLost.self) { try store.finish(itemID: id, owner: Self.owner) }
        #expect(throws: LeaseLost.self) { try store.stop(itemID: id, owner: Self.owner, as: .failed, error: "x", kind: .transient) }
        let item = try #require(try await store.item(claim.item.id))
        #expect(item.status == .failed && item.errorKind == .interrupted && item.collected == 0)
        store.close()
    }

    @Test(arguments: StoreKind.available)
    func invariant8_onlyExpiredLeasesAreMarkedAndRenewedOnesSurvive(kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let (store, job) = try await Self.store(kind, folder, items: ["renewed", "expired", "spared"])
        let claims = try (0..<3).map { _ in try Self.claim(store, job, lease: 0.05) }
        let ids = claims.map { $0.item.id.uuidString.lowercased() }
        try await Task.sleep(for: .milliseconds(100))
        try store.renewLeases(owner: Self.owner, itemIDs: [ids[0]], leaseSeconds: 30)
        let marked = try store.markExpiredInterrupted(now: Date().timeIntervalSince1970, reason: "lease of {owner} expired") { id, _ in
            id == ids[2]
        }
        #expect(marked == [claims[1].item.id])
        #expect(try await store.item(claims[1].item.id)?.lastError == "lease of \(Self.owner) expired")
        #expect(try await store.item(claims[0].item.id)?.status == .running)
        #expect(try await store.item(claims[2].item.id)?.status == .running)
        store.close()
    }

    @Test(arguments: StoreKind.available)
    func claimsNeverHandOneItemToTwoWorkers(kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let (store, job) = try await Self.store(kind, folder, items: (0..<40).map { "i\($0)" })
        let claimed = Locked<[UUID]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            while case .claimed(let claim)? = try? store.claimNext(jobID: job.id, specVersion: job.specVersion, owner: "host:\(worker):w",
                                                                    leaseSeconds: 30, onClaim: { _ in }) {
                claimed.withLock { $0.append(claim.item.id) }
            }
        }
        let ids = claimed.withLock { $0 }
        #expect(ids.count == 40 && Set(ids).count == 40)
        store.close()
    }

    @Test(arguments: StoreKind.available)
    func aCancelStopsClaimsAndNoAutomaticRetryUndoesIt(kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let (store, job) = try await Self.store(kind, folder, items: ["running", "waiting"])
        let claim = try Self.claim(store, job)
        #expect(try await store.cancelJob(job.id) == 1)  // "waiting"
        guard case .nothing = try store.claimNext(jobID: job.id, specVersion: job.specVersion, owner: Self.owner, leaseSeconds: 30,
                                                  onClaim: { _ in }) else {
            Issue.record("a cancelled job's item was claimed")
            return
        }
        let stopped = try store.stop(itemID: claim.item.id.uuidString.lowercased(), owner: Self.owner, as: .failed, error: "down",
                                     kind: .transient, retry: (mode: .recover, notBefore: 0), sync: .normal)
        #expect(stopped.status == .failed)
        #expect(try await store.job(job.id.uuidString)?.cancelled == true)
        #expect(try await store.retry([claim.item.id], mode: .recover, origin: .interruption).skipped.map(\.reason) == [.jobCancelled])
        #expect(try await store.retry([claim.item.id], mode: .recover, origin: .manual).total == 1)
        #expect(try await store.job(job.id.uuidString)?.cancelled == false)
        store.close()
    }

    /// A prune removes finished jobs whole (items, history, checkpoints), a step at a time, and
    /// keeps every job with a failed, pending or running item; a dry run changes nothing.
    @Test(arguments: StoreKind.available)
    func pruneRemovesFinishedJobsOnly(kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let store = try kind.open(folder)
        defer { store.close() }
        var specs: [String: Job] = [:]
        for name in ["done", "failing", "waiting"] {
            var spec = makeSpec(name: name, items: ["a", "b"])
            spec.ingester.options["path"] = .string("out-\(name)/{item}.jsonl")
            specs[name] = try await store.submit(spec, baseDirectory: folder.url, owner: Self.owner, protecting: ProtectedPaths()).job
        }
        for name in ["done", "failing"] {
            for _ in 0..<2 {
                let claim = try Self.claim(store, specs[name]!)
                let id = claim.item.id.uuidString.lowercased()
                _ = try store.commitPage(itemID: id, owner: Self.owner, firstSeq: 0, documents: Self.documents(0..<3), nextCursor: nil, sync: .normal)
                if name == "done" || claim.item.name == "a" {
                    _ = try store.finish(itemID: id, owner: Self.owner)
                } else {
                    _ = try store.stop(itemID: id, owner: Self.owner, as: .failed, error: "down", kind: .transient)
                }
            }
        }
        let doneItems = try await store.items(jobID: specs["done"]!.id, status: nil)
        let future = Date().timeIntervalSince1970 + 60
        #expect(try await store.prune(finishedBefore: Date().timeIntervalSince1970 - 3_600, dryRun: false).jobs.isEmpty,
                "nothing finished an hour ago")
        #expect(try await store.prune(finishedBefore: future, dryRun: true) == PruneResult(jobs: ["done"], items: 2))
        #expect(try await store.job("done") != nil, "a dry run removes nothing")
        #expect(try await store.prune(finishedBefore: future, dryRun: false) == PruneResult(jobs: ["done"], items: 2))
        #expect(try await store.job("done") == nil)
        for item in doneItems {
            #expect(try await store.item(item.id) == nil)
            #expect(try await store.events(itemID: item.id).isEmpty)
            #expect(try await store.checkpoints(itemID: item.id).isEmpty)
        }
        let failingJob = try await store.job("failing")
        let waitingJob = try await store.job("waiting")
        #expect(failingJob != nil && waitingJob != nil)
        #expect(try await store.itemCounts() == [.succeeded: 1, .failed: 1, .pending: 2])
        // The history stays append-only outside a prune.
        let failing = try await store.items(jobID: specs["failing"]!.id, status: nil)
        #expect(try await store.events(itemID: failing[0].id).count >= 3)
    }

    @Test(arguments: StoreKind.available)
    func readsCostWhatTheyReturn_pagesByKeyAndCountsByStatus(kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let (store, job) = try await Self.store(kind, folder, items: (0..<7).map { "i\($0)" })
        var seen: [String] = []
        var after: Int?
        repeat {
            let page = try await store.itemsPage(jobID: job.id, status: nil, errorKind: nil, errorContains: nil, after: after, limit: 3,
                                                 scanLimit: 10_000)
            seen += page.items.map(\.name)
            after = page.nextAfter
        } while after != nil
        #expect(seen == (0..<7).map { "i\($0)" })
        _ = try Self.claim(store, job)
        #expect(try await store.itemCounts() == [.pending: 6, .running: 1])
        #expect(try await store.jobStatus(job.id)?.counts == [.pending: 6, .running: 1])
        #expect(try await store.jobsWithPendingItems() == [job.id])
        store.close()
    }
}
