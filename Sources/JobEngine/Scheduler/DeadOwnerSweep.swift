import Foundation

/// Who is dead, and what happens to their items: the items of dead workers become `failed` with kind
/// `interrupted`, ready for `recover`.
///
/// Two kinds of proof, and only these:
/// - an engine on this host whose owner lock this sweep actually took is dead (at once);
/// - an item whose lease expired has no live thread on it: a live worker renews the lease of every
///   item its threads work on (and only those), every third of the lease. Its worker died on another
///   host, stalled past its lease, or gave the item up (an outcome the store would not take).
///
/// Anything else (a lock file that cannot be opened, say by another OS user, or that is missing)
/// proves nothing, and the lease decides. Items this engine's own threads are working on, and items
/// of a same-host owner whose lock is held, are never touched: that owner judges its own items. A worker that loses an item this way finds out at its next commit (`LeaseLost`).
struct DeadOwnerSweep {
    let store: any JobStore
    let owner: String
    let running: RunningItems

    /// Marks the items of dead workers interrupted; returns their ids.
    func run() throws -> [UUID] {
        var interrupted: [UUID] = []
        // Same-host owners whose lock is held are alive, whatever their leases say: another process
        // holding the write lock long (a large submit) can keep a live worker from renewing.
        var alive: Set<String> = []
        if let directory = store.ownerLockDirectory {
            for (other, _) in try store.runningOwners() where other != owner && OwnerLock.host(of: other) == OwnerLock.host(of: owner) {
                switch OwnerLock.probe(owner: other, directory: directory) {
                case .dead:
                    interrupted += try store.markInterrupted(owner: other, reason: "its worker {owner} died before finishing it")
                case .alive:
                    alive.insert(other)
                case .unknown:
                    break
                }
            }
        }
        interrupted += try store.markExpiredInterrupted(
            now: Date().timeIntervalSince1970,
            reason: "the lease of worker {owner} expired: no thread of a live worker was on it"
        ) { [owner, running] itemID, itemOwner in
            itemOwner == owner ? running.contains(itemID) : alive.contains(itemOwner)
        }
        // Only now, with the dead owners' items marked: a lock file is the proof of its owner's
        // death, so it goes once that proof was used. The lock of an owner whose submit is not yet
        // ended stays: it is the proof `deadSubmits` needs.
        if let directory = store.ownerLockDirectory {
            OwnerLock.removeStale(in: directory, keeping: Set(try store.unfinishedSubmits().map(\.owner)))
        }
        return interrupted
    }

    /// Submits whose engine is proven dead (a same-host owner lock this call took): the caller
    /// discards or finishes them (`JobStore.endUnfinishedSubmit`). A live engine's submit, or one
    /// whose engine cannot be judged, is left to that engine.
    func deadSubmits() throws -> [UnfinishedSubmit] {
        guard let directory = store.ownerLockDirectory else { return [] }
        return try store.unfinishedSubmits().filter { submit in
            submit.owner != owner && OwnerLock.host(of: submit.owner) == OwnerLock.host(of: owner)
                && OwnerLock.probe(owner: submit.owner, directory: directory) == .dead
        }
    }
}
