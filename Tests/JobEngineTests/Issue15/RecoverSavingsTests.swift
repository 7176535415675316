import Foundation
import JobEngineTestSupport
import Testing

@testable import JobEngine

/// Issue 15: what a recover saved, on every store. Each claim adds the documents the item had
/// staged (what its run does not collect again); a restart, asked for or forced by changed
/// parameters, keeps nothing and adds nothing; the figure is the item's whole life's.
@Suite(.limit(minutes: 1)) struct RecoverSavingsTests {
    typealias StoreKind = StoreConformanceTests.StoreKind
    static let owner = StoreConformanceTests.owner

    @Test(arguments: StoreKind.available)
    func eachResumedClaimAddsWhatWasStagedAndARestartAddsNothing(kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let (store, job, claim, id) = try await StoreConformanceTests.claimedItem(kind, folder)
        #expect(claim.item.notCollectedAgain == 0, "a first run resumes nothing")
        _ = try store.commitPage(itemID: id, owner: Self.owner, firstSeq: 0, documents: StoreConformanceTests.documents(0..<5),
                                 nextCursor: "5", sync: .normal)
        _ = try store.stop(itemID: id, owner: Self.owner, as: .failed, error: "source down", kind: .transient)

        // Recover: the claim resumes with 5 staged.
        #expect(try await store.retry([claim.item.id], mode: .recover).total == 1)
        let recovered = try StoreConformanceTests.claim(store, job)
        #expect(recovered.item.notCollectedAgain == 5 && recovered.item.collected == 5)
        #expect(try await store.item(claim.item.id)?.notCollectedAgain == 5)
        _ = try store.commitPage(itemID: id, owner: Self.owner, firstSeq: 5, documents: StoreConformanceTests.documents(5..<8),
                                 nextCursor: "8", sync: .normal)
        _ = try store.stop(itemID: id, owner: Self.owner, as: .failed, error: "source down", kind: .transient)

        // Recover again: 8 staged now, the figure adds up over the item's life.
        #expect(try await store.retry([claim.item.id], mode: .recover).total == 1)
        #expect(try StoreConformanceTests.claim(store, job).item.notCollectedAgain == 13)
        _ = try store.stop(itemID: id, owner: Self.owner, as: .failed, error: "source down", kind: .transient)

        // Restart: nothing kept, nothing added, and what recovers saved before stays on record.
        #expect(try await store.retry([claim.item.id], mode: .restart).total == 1)
        let restarted = try StoreConformanceTests.claim(store, job)
        #expect(restarted.item.notCollectedAgain == 13 && restarted.item.collected == 0)
        _ = try store.commitPage(itemID: id, owner: Self.owner, firstSeq: 0, documents: StoreConformanceTests.documents(0..<4),
                                 nextCursor: "4", sync: .normal)
        _ = try store.stop(itemID: id, owner: Self.owner, as: .failed, error: "source down", kind: .transient)

        // A recover queued, then the parameters changed: the claim restarts it, adding nothing.
        #expect(try await store.retry([claim.item.id], mode: .recover).total == 1)
        var changed = makeSpec(items: ["a"])
        changed.collector.options["document_bytes"] = 999
        let resubmitted = try await store.submit(changed, baseDirectory: folder.url, owner: Self.owner, protecting: ProtectedPaths())
        let forced = try StoreConformanceTests.claim(store, resubmitted.job)
        #expect(forced.restartedForChangedParameters)
        #expect(forced.item.notCollectedAgain == 13 && forced.item.collected == 0)
        #expect(try await store.item(claim.item.id)?.notCollectedAgain == 13)
        store.close()
    }
}
