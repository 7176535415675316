import CSQLite
import Foundation

/// One SQLite connection. It owns its `sqlite3*` (closed in `deinit`, also when opening fails) and
/// a cache of prepared statements. It is not thread-safe: `SerializedDatabase` confines it to one
/// serial queue.
final class Connection {
    private(set) var handle: OpaquePointer?
    let path: String
    private var statements: [String: Statement] = [:]
    private var synchronous: SyncMode?
    /// Gives other processes a turn at the write lock between back-to-back write transactions.
    var lockShare = WriteLockShare()
    /// Set while an async caller's work runs (`SerializedDatabase.run`): true once that caller was
    /// cancelled, and then no further statement starts. `sqlite3_interrupt` stops the statement
    /// running at the cancel; this stops the ones after it, which SQLite would run again.
    var cancellation: (() -> Bool)?
    /// Set on a store's writer: its commits ask a `WALCheckpointer` for checkpoints.
    private var walHook: WALHook?

    /// Opens (creating if needed) the database at `path`, or an in-memory one for `":memory:"`.
    init(path: String, readOnly: Bool = false, busyTimeoutMilliseconds: Int32 = 5_000) throws {
        _ = Self.configureSQLite
        self.path = path
        var db: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
            | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI
        let code = sqlite3_open_v2(path, &db, flags, nil)
        // "Whether or not an error occurs when it is opened, resources associated with the database
        // connection handle should be released by passing it to sqlite3_close()" (sqlite.org/c3ref/open.html)
        handle = db
        guard code == SQLITE_OK else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            throw SQLiteError(code: code, message: message, sql: nil, context: "opening the database at \(path)")
        }
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
    }

    deinit {
        close()
    }

    /// Process-wide SQLite settings, applied once before the first connection opens.
    private static let configureSQLite: Void = {
        _ = jobengine_disable_memory_statistics()
    }()

    /// Finalizes every cached statement, then closes the handle. Later calls throw.
    func close() {
        statements.removeAll()
        if let handle {
            if let walHook {
                // The checkpointer's connection closes first, so this one is the last and removes the WAL.
                sqlite3_wal_hook(handle, nil, nil)
                walHook.checkpointer.close()
            }
            sqlite3_close_v2(handle)
        }
        handle = nil
        walHook = nil
    }

    /// Replaces SQLite's automatic checkpoint with one on `WALCheckpointer`'s thread, asked for once
    /// the WAL holds `thresholdPages` pages.
    func checkpointInBackground(thresholdPages: Int32) throws {
        let hook = WALHook(checkpointer: WALCheckpointer(path: path), thresholdPages: thresholdPages)
        sqlite3_wal_hook(try openHandle(), WALHook.callback, Unmanaged.passUnretained(hook).toOpaque())
        walHook = hook
    }

    /// Stops the statements running on this connection with SQLITE_INTERRUPT ("It is safe to call
    /// this routine from a thread different from the thread that is currently running the database
    /// operation", sqlite.org/c3ref/interrupt.html). The caller makes sure the connection stays
    /// open until this returns.
    func interrupt() {
        if let handle { sqlite3_interrupt(handle) }
    }

    var isInMemory: Bool { path == ":memory:" || path.hasPrefix("file::memory:") }

    /// Runs `sql` (a single statement) with bound `arguments`, returning its rows. The prepared
    /// statement is cached, so the SQL text must not vary with values: values go in `arguments`.
    @discardableResult
    func execute(_ sql: String, _ arguments: [SQLValue] = []) throws -> [Row] {
        try checkNotCancelled(sql)
        return try cachedStatement(sql).run(arguments)
    }

    /// Runs `sql` once per element of `rows`, each with the arguments `arguments(element)` gives:
    /// for the hot loops that write a page's or a batch's documents (one statement lookup, not one
    /// per document).
    /// `after` runs after each row's statement (`changes` is then that row's).
    func executeEach<S: Sequence>(_ sql: String, _ rows: S, arguments: (S.Element) -> [SQLValue],
                                  after: (S.Element) throws -> Void = { _ in }) throws {
        let statement = try cachedStatement(sql)
        for row in rows {
            try checkNotCancelled(sql)
            _ = try statement.run(arguments(row))
            try after(row)
        }
    }

    /// Runs `sql` with bound `arguments` and maps each row by column index (see `Statement.map`).
    func map<T>(_ sql: String, _ arguments: [SQLValue], _ transform: (ColumnReader) -> T) throws -> [T] {
        try checkNotCancelled(sql)
        return try cachedStatement(sql).map(arguments, transform)
    }

    /// Runs a script of several statements without arguments (migrations, pragmas).
    func executeScript(_ sql: String, context: String) throws {
        let handle = try openHandle()
        var message: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &message)
        if code != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(message)
            throw SQLiteError(code: code, message: text, sql: sql, context: context)
        }
    }

    /// Whether a transaction is open: "sqlite3_get_autocommit() returns non-zero … if the database
    /// connection is in autocommit mode" (sqlite.org/c3ref/get_autocommit.html), i.e. outside one.
    var isInTransaction: Bool { handle.map { sqlite3_get_autocommit($0) == 0 } ?? false }

    /// Rows changed by the last INSERT, UPDATE or DELETE on this connection.
    var changes: Int { handle.map { Int(sqlite3_changes($0)) } ?? 0 }

    /// Runs `body` in one transaction: commits if it returns, rolls back and rethrows if it throws.
    /// Writers begin IMMEDIATE so a lock conflict surfaces at BEGIN (where the busy timeout waits)
    /// rather than as a deadlock at the first write.
    @discardableResult
    func inTransaction<T>(immediate: Bool = true, _ body: () throws -> T) throws -> T {
        if immediate { lockShare.beforeBegin() }
        walHook?.committedAt = nil
        // The lock is free from the commit on; a checkpoint the commit ran after it is not a hold.
        defer { if immediate { lockShare.afterEnd(lockReleasedAt: walHook?.committedAt) } }
        try execute(immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            // The first error is the one worth reporting; a failed rollback after it adds nothing.
            _ = try? undo("ROLLBACK")
            throw error
        }
    }

    /// Runs `body` inside `SAVEPOINT name` of the current transaction: released if it returns, rolled
    /// back to (and released) if it throws, so only `body`'s changes are undone. Rethrows `body`'s
    /// error even when the rollback fails: SQLite may have rolled the whole transaction back itself
    /// (it can on SQLITE_FULL, IOERR, BUSY), and then "no such savepoint" would hide the cause.
    @discardableResult
    func inSavepoint<T>(_ name: String, _ body: () throws -> T) throws -> T {
        try execute("SAVEPOINT \(name)")
        do {
            let result = try body()
            try execute("RELEASE \(name)")
            return result
        } catch {
            _ = try? undo("ROLLBACK TO \(name)")
            _ = try? undo("RELEASE \(name)")
            throw error
        }
    }

    /// Sets `PRAGMA synchronous` if it differs from the current setting. Not inside a transaction.
    func setSynchronous(_ mode: SyncMode) throws {
        guard synchronous != mode else { return }
        try execute(mode == .full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")
        synchronous = mode
    }

    /// The settings every database the engine writes gets, the store and the SQLite sink's files
    /// alike (the sink once lacked them and wrote 4.6× its data; Benchmarks/README.md):
    /// - `pageSize` for a new file (an existing one keeps its size: SQLite ignores this once the
    ///   file is in WAL mode). The sink's files take 16 KiB: in its WITHOUT ROWID table a row larger
    ///   than about a quarter of a page spills into an overflow page (at 4 KiB, each 1 KiB document
    ///   took a 4 KiB overflow page of its own). The store takes 4 KiB (`Store.pageSize`).
    /// - WAL, `synchronous = NORMAL` (a job's `checkpoint.sync: full` raises it per commit).
    /// - Temporary files in memory: a SAVEPOINT's or an upsert's statement journal spills to a file
    ///   in /var/tmp past 64 KiB, which a page or batch of fifty 1 KiB documents always passes;
    ///   strace showed one temporary file created, written and deleted per checkpoint and per sink
    ///   batch. In memory it is bounded by one transaction.
    func applyEngineFileSettings(pageSize: Int) throws {
        try execute("PRAGMA page_size = \(pageSize)")  // before WAL mode writes the header
        try enableWAL()
        try setSynchronous(.normal)
        try execute("PRAGMA temp_store = MEMORY")
    }

    /// Switches to WAL and verifies it took: "The journal_mode pragma returns the new journal mode"
    /// (sqlite.org/pragma.html#pragma_journal_mode); an in-memory database answers "memory".
    func enableWAL() throws {
        let rows = try execute("PRAGMA journal_mode = WAL")
        let mode = rows.first?.string("journal_mode") ?? ""
        guard mode == "wal" || (isInMemory && mode == "memory") else {
            throw SQLiteError(code: SQLITE_ERROR, message: "journal_mode is \(mode), not wal",
                              sql: "PRAGMA journal_mode = WAL", context: "switching \(path) to WAL mode")
        }
    }

    func error(code: Int32, sql: String?, context: String) -> SQLiteError {
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "connection is closed"
        return SQLiteError(code: code, message: message, sql: sql, context: context)
    }

    private func openHandle() throws -> OpaquePointer {
        guard let handle else {
            throw SQLiteError(code: SQLITE_MISUSE, message: "the store is closed", sql: nil,
                              context: "using the database at \(path)")
        }
        return handle
    }

    /// Throws SQLITE_INTERRUPT when the async caller this connection works for was cancelled.
    private func checkNotCancelled(_ sql: String) throws {
        if let cancellation, cancellation() {
            throw SQLiteError(code: SQLITE_INTERRUPT, message: String(cString: sqlite3_errstr(SQLITE_INTERRUPT)), sql: sql,
                              context: "starting a statement after its caller was cancelled")
        }
    }

    /// Runs a rollback statement even for a cancelled caller: undoing is what a cancel needs.
    private func undo(_ sql: String) throws {
        _ = try cachedStatement(sql).run([])
    }

    private func cachedStatement(_ sql: String) throws -> Statement {
        _ = try openHandle()
        if let statement = statements[sql] { return statement }
        let statement = try Statement(sql: sql, connection: self)
        statements[sql] = statement
        return statement
    }
}

@available(*, unavailable)
extension Connection: Sendable {}
