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
final class GroupCommit: @unchecked Sendable {
    // @unchecked: `queue` and `leading` are only touched while `state` is locked.

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
    /// Guards `queue` and `leading`; waiting writers sleep on it until their write is done or the
    /// leadership is free.
    private let state = NSCondition()
    private var queue: [Request] = []
    private var leading = false
    private let counters = Locked((transactions: 0, writes: 0))

    init(writer: SerializedDatabase) {
        self.writer = writer
    }

    /// Transactions committed and writes they carried, since the store opened.
    var statistics: (transactions: Int, writes: Int) { counters.withLock { $0 } }

    /// Writes waiting for a leader.
    var queuedCount: Int {
        state.lock()
        defer { state.unlock() }
        return queue.count
    }

    /// Runs `body` in a transaction shared with the writes queued alongside it.
    ///
    /// One writer at a time leads: it waits for the connection, takes every write queued by then,
    /// commits them, and wakes the others at once. The followers never touch the connection: a
    /// follower whose write was committed returns, and one still queued becomes the next leader.
    /// (Entering the connection's serial queue only to find one's write done, as this type once
    /// did, woke the waiting writers one after another, a context switch each, in series: with
    /// four items running, that chain was most of a small item's cost.)
    func write<T: Sendable>(sync: SyncMode, _ body: @escaping @Sendable (Connection) throws -> T) throws -> T {
        let request = Request(sync: sync, body: body)
        state.lock()
        queue.append(request)
        while request.outcome.withLock({ $0 }) == nil {
            guard !leading else {
                state.wait()
                continue
            }
            leading = true
            state.unlock()
            writer.sync { db in
                let group = take()
                // Empty when an earlier leader committed ours.
                if !group.isEmpty { commit(group, on: db) }
            }
            state.lock()
            leading = false
            state.broadcast()
        }
        state.unlock()
        guard let outcome = request.outcome.withLock({ $0 }) else {
            preconditionFailure("a queued checkpoint write was not run by any leader")
        }
        // The body returned a T; the cast only undoes the type erasure of the queue.
        return try outcome.get() as! T
    }

    /// Every write queued so far, leaving the queue empty.
    private func take() -> [Request] {
        state.lock()
        defer { state.unlock() }
        defer { queue.removeAll(keepingCapacity: true) }
        return queue
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
