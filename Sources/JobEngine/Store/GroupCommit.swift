import Foundation

/// Merges checkpoint writes that arrive together into one transaction.
///
/// Each caller queues its write and then enters the writer's serial queue; whoever gets there
/// first runs every queued write, each inside its own SAVEPOINT, and commits them all at once.
/// A caller whose write was already committed by an earlier leader finds nothing left to do.
/// A write that throws is rolled back to its savepoint alone, so invariant 1 holds per write
/// (a page's documents and its cursor still commit together or not at all); if the COMMIT
/// itself fails, every write in the group fails. With several items running, this is how the
/// engine pays one transaction for many checkpoints.
final class GroupCommit: Sendable {
    /// One queued write and, once the leader ran it, its outcome.
    private final class Request: Sendable {
        let sync: SyncMode
        let body: @Sendable (Connection) throws -> any Sendable
        let outcome = Locked<Result<any Sendable, any Error>?>(nil)

        init(sync: SyncMode, body: @escaping @Sendable (Connection) throws -> any Sendable) {
            self.sync = sync
            self.body = body
        }
    }

    private let writer: SerializedDatabase
    private let queued = Locked<[Request]>([])
    private let counters = Locked((transactions: 0, writes: 0))

    init(writer: SerializedDatabase) {
        self.writer = writer
    }

    /// Transactions committed and writes they carried, since the store opened.
    var statistics: (transactions: Int, writes: Int) { counters.withLock { $0 } }

    /// Writes waiting for a leader.
    var queuedCount: Int { queued.withLock { $0.count } }

    /// Runs `body` in a transaction shared with the writes queued alongside it.
    func write<T: Sendable>(sync: SyncMode, _ body: @escaping @Sendable (Connection) throws -> T) throws -> T {
        let request = Request(sync: sync, body: body)
        queued.withLock { $0.append(request) }
        writer.sync { db in
            let group = queued.withLock { queue -> [Request] in
                defer { queue.removeAll(keepingCapacity: true) }
                return queue
            }
            guard !group.isEmpty else { return }  // an earlier leader committed ours
            commit(group, on: db)
        }
        guard let outcome = request.outcome.withLock({ $0 }) else {
            preconditionFailure("a queued checkpoint write was not run by any leader")
        }
        // The body returned a T; the cast only undoes the type erasure of the queue.
        return try outcome.get() as! T
    }

    private func commit(_ group: [Request], on db: Connection) {
        var outcomes: [Result<any Sendable, any Error>] = []
        do {
            // Durability is per connection, not per transaction: the group gets the strictest asked for.
            try db.setSynchronous(group.contains { $0.sync == .full } ? .full : .normal)
            try db.inTransaction {
                // Alone in its transaction, a write needs no savepoint: if it throws, the whole
                // transaction rolls back, which undoes exactly that write. Savepoints cost a
                // statement journal of every page the write changes.
                if group.count == 1, let request = group.first {
                    outcomes.append(Result { try request.body(db) })
                    if case .failure(let error) = outcomes[0] { throw error }
                    return
                }
                for request in group {
                    let outcome = Result { try db.inSavepoint("checkpoint") { try request.body(db) } }
                    outcomes.append(outcome)
                    // SQLite rolled the whole transaction back itself (SQLITE_FULL, say): the write's
                    // own error fails the group, which nothing of was committed.
                    if case .failure(let error) = outcome, !db.isInTransaction { throw error }
                }
            }
            counters.withLock { $0.transactions += 1; $0.writes += group.count }
        } catch {
            // Nothing of the group was committed.
            outcomes = group.map { _ in .failure(error) }
        }
        for (request, outcome) in zip(group, outcomes) {
            request.outcome.withLock { $0 = outcome }
        }
    }
}
