import Foundation

extension Store {
    /// Marks the items of every dead owner `failed` with kind `interrupted`. An owner on this host
    /// is dead when its owner lock is free (detected at once); any other owner when its lease has
    /// expired. Returns the ids of the items marked.
    func sweepDeadOwners(except liveOwner: String) throws -> [UUID] {
        var interrupted: [UUID] = []
        let now = Date().timeIntervalSince1970
        for (owner, expiresAt) in try runningOwners() where owner != liveOwner {
            let dead = ownerLockDirectory.flatMap { OwnerLock.isDead(owner: owner, directory: $0) } ?? (expiresAt < now)
            if dead {
                interrupted += try markInterrupted(owner: owner, reason: "interrupted: worker \(owner) stopped without finishing")
            }
        }
        return interrupted
    }
}
