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
/// proves nothing, and the lease decides. Items this engine's own threads are working on are never
/// touched. A worker that loses an item this way finds out at its next commit (`LeaseLost`).
struct DeadOwnerSweep {
    let store: Store
    let owner: String
    let running: RunningItems

    /// Marks the items of dead workers interrupted; returns their ids.
    func run() throws -> [UUID] {
        var interrupted: [UUID] = []
        if let directory = store.ownerLockDirectory {
            for (other, _) in try store.runningOwners()
            where other != owner && OwnerLock.host(of: other) == OwnerLock.host(of: owner)
                && OwnerLock.probe(owner: other, directory: directory) == .dead
            {
                interrupted += try store.markInterrupted(owner: other, reason: "its worker {owner} died before finishing it")
            }
        }
        interrupted += try store.markExpiredInterrupted(
            now: Date().timeIntervalSince1970,
            reason: "the lease of worker {owner} expired: no thread of a live worker was on it"
        ) { [owner, running] itemID, itemOwner in itemOwner == owner && running.contains(itemID) }
        // After the owners above were judged (each by its own file), clear what dead engines without
        // running items left behind.
        if let directory = store.ownerLockDirectory { OwnerLock.removeStale(in: directory) }
        return interrupted
    }
}
