import CSQLite
import Foundation

/// Copies a store's WAL back into the database file on a thread of its own.
///
/// SQLite's automatic checkpoint runs inside the COMMIT call of the transaction that crossed the
/// threshold, on the writer's thread: during a large submit the writer spent 2–3 s of 16 copying
/// 64 MiB at a time (and the longest "hold" it measured was that copy, not the lock), while the
/// second core waited. Here the writer's commit only asks for a checkpoint; a connection of this
/// type's own runs it (`PASSIVE`: it never blocks the writer or a reader, it copies what no reader
/// still needs). A checkpoint copies the frames there were when it began, so while the writer keeps
/// committing the WAL cannot start over and grows; past twice the threshold the writer's commit
/// waits for a checkpoint of everything before its next transaction, as SQLite's automatic
/// checkpoint would, which bounds it.
final class WALCheckpointer: @unchecked Sendable {
    // @unchecked: `connection` is only touched on `queue`; `state` is locked.
    private let path: String
    private let queue = DispatchQueue(label: "JobEngine.store.checkpointer")
    private var connection: Connection?
    private let state = Locked<(scheduled: Bool, closed: Bool)>((false, false))

    init(path: String) {
        self.path = path
    }

    /// Asks for a checkpoint soon; a request while one is queued adds nothing.
    func schedule() {
        let start = state.withLock { state -> Bool in
            guard !state.closed, !state.scheduled else { return false }
            state.scheduled = true
            return true
        }
        guard start else { return }
        queue.async { [self] in
            // Cleared first: a commit during this checkpoint asks for the next one.
            state.withLock { $0.scheduled = false }
            checkpoint()
        }
    }

    /// Checkpoints now, on the caller's thread, after any checkpoint in progress: for a writer whose
    /// WAL outgrew the background checkpoints. The writer waits here between its transactions, so
    /// this one copies every frame (but those a reader still needs) and the WAL starts over at its
    /// next transaction.
    func checkpointNow() {
        queue.sync { checkpoint() }
    }

    /// Only on `queue`.
    private func checkpoint() {
        guard !state.withLock({ $0.closed }) else { return }
        do {
            if connection == nil { connection = try Connection(path: path, busyTimeoutMilliseconds: 0) }
            try connection?.execute("PRAGMA wal_checkpoint(PASSIVE)")
        } catch {
            // Nothing is lost: the WAL keeps the frames until a later checkpoint copies them. A
            // connection that failed is opened again.
            connection = nil
        }
    }

    /// Waits for a checkpoint in progress and closes the connection; later requests are ignored.
    /// Called before the writer closes, so the writer is the last connection and removes the WAL.
    func close() {
        state.withLock { $0.closed = true }
        queue.sync {
            connection?.close()
            connection = nil
        }
    }
}

/// What a writer connection's WAL hook needs, on the writer's thread: where to ask for checkpoints,
/// and when the last commit released the write lock (the hook runs right after that).
final class WALHook {
    let checkpointer: WALCheckpointer
    let thresholdPages: Int32
    var committedAt: ContinuousClock.Instant?

    init(checkpointer: WALCheckpointer, thresholdPages: Int32) {
        self.checkpointer = checkpointer
        self.thresholdPages = thresholdPages
    }

    /// "Invoked by SQLite after the commit has taken place and the associated write-lock on the
    /// database released" (sqlite.org/c3ref/wal_hook.html), with the WAL's size in pages.
    func committed(_ db: OpaquePointer?, pages: Int32) {
        committedAt = .now
        if pages >= thresholdPages * 2 {
            checkpointer.checkpointNow()
        } else if pages >= thresholdPages {
            checkpointer.schedule()
        }
    }

    /// The C callback; `context` is the connection's hook, which lives as long as the connection.
    static let callback: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?, UnsafePointer<CChar>?, Int32) -> Int32 = {
        context, db, _, pages in
        if let context { Unmanaged<WALHook>.fromOpaque(context).takeUnretainedValue().committed(db, pages: pages) }
        return SQLITE_OK
    }
}
