import Foundation

extension Store {
    /// Marks the items of every dead owner `failed` with kind `interrupted`. An owner on this host
    /// is dead when its owner lock is free or gone (detected at once); an owner on another host
    /// when its lease has expired. Returns the ids of the items marked.
    func sweepDeadOwners(except liveOwner: String) throws -> [UUID] {
        var interrupted: [UUID] = []
        let now = Date().timeIntervalSince1970
        for (owner, expiresAt) in try runningOwners() where owner != liveOwner {
            let onThisHost = OwnerLock.host(of: owner) == OwnerLock.host(of: liveOwner)
            let dead = onThisHost
                ? ownerLockDirectory.map { OwnerLock.isDead(owner: owner, directory: $0) } ?? false
                : expiresAt < now
            if dead {
                interrupted += try markInterrupted(owner: owner, reason: "interrupted: worker \(owner) stopped without finishing")
            }
        }
        // After the owners above were judged (each by its own file), clear what dead engines without
        // running items left behind.
        if let directory = ownerLockDirectory { OwnerLock.removeStale(in: directory) }
        return interrupted
    }
}
