import CSQLite
import Foundation
import Logging

/// The engine's SQLite store: jobs, work items, checkpoints, staged documents and the event history.
///
/// All writes go through one writer connection confined to a serial queue; each write is one
/// transaction (`SerializedDatabase.write`). Reads use a second connection so a long read never
/// waits behind checkpoint commits (WAL lets readers and the writer proceed together). An in-memory
/// store has a single connection, since an in-memory database is private to its connection.
///
/// ```swift
/// let store = try Store(path: "/var/lib/pipeline/engine.sqlite")
/// let items = try store.items(jobID: job.id)
/// ```
/// - Throws: `EngineError` `.storeUnusable` when the file is not SQLite or not a JobEngine store,
///   `.storeNewerThanEngine` when a newer engine wrote it, `SQLiteError` for anything else SQLite refuses.
package final class Store: Sendable {
    /// The path given at open, or `:memory:`.
    package let path: String
    /// `path` with symlinks resolved (the owner locks live beside it).
    let canonicalPath: String
    /// Opened read-only: every write throws.
    package let readOnly: Bool
    let writer: SerializedDatabase
    let reader: SerializedDatabase
    /// Checkpoint writes go through here, so concurrent items share transactions.
    let checkpoints: GroupCommit
    let logger: Logger

    /// Opens the store at `path`. `readOnly` opens one read-only connection and writes nothing at
    /// all (no migration, no settings): for commands that only read, which must work on a store of
    /// another OS user, a read-only file or a full disk.
    package init(path: String, readOnly: Bool = false, busyTimeoutMilliseconds: Int32 = 5_000,
                logger: Logger = Logger(label: "JobEngine.store")) throws {
        self.path = path
        self.logger = logger
        self.readOnly = readOnly
        do {
            if readOnly {
                let connection: SerializedDatabase
                do {
                    connection = try Self.openReadOnly(path, uri: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
                } catch let error as SQLiteError where [.readOnly, .cannotOpen].contains(error.resultCode) {
                    // Another OS user's store with nothing running: its -wal and -shm are gone, and this
                    // user may not create them in its folder. No writer can be active then (a writer
                    // keeps them), so the file is read as immutable, which needs neither.
                    connection = try Self.openReadOnly(path, uri: Self.immutableURI(path), busyTimeoutMilliseconds: busyTimeoutMilliseconds)
                }
                writer = connection
                reader = connection
            } else {
                writer = try SerializedDatabase(label: "JobEngine.store.writer") {
                    try Connection(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
                }
                let opened = writer
                try Self.retryingWhileBusy {
                    try opened.sync { db in
                        // Refuse a database that is not ours before anything (even WAL mode) changes it.
                        let version = try Self.checkCompatible(db)
                        try Self.configure(db)
                        try Self.migrate(db, from: version)
                    }
                }
                if writer.sync({ $0.isInMemory }) {
                    reader = writer
                } else {
                    reader = try SerializedDatabase(label: "JobEngine.store.reader") {
                        try Connection(path: path, readOnly: true, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
                    }
                    try reader.sync { db in try db.execute("PRAGMA query_only = ON") }
                }
            }
            checkpoints = GroupCommit(writer: writer)
            // Engines reaching one store by different paths agree on where its owner locks are.
            canonicalPath = path == ":memory:" ? path : CanonicalPath.of(URL(fileURLWithPath: path))
        } catch let error as SQLiteError where [.notADatabase, .corrupt].contains(error.resultCode) {
            throw EngineError(.storeUnusable, "\(path) is not a JobEngine store: it is not an SQLite database (\(error.message))")
        }
    }

    /// One read-only connection, checked to hold a store of this engine's schema version.
    private static func openReadOnly(_ path: String, uri: String, busyTimeoutMilliseconds: Int32) throws -> SerializedDatabase {
        let connection = try SerializedDatabase(label: "JobEngine.store.reader") {
            try Connection(path: uri, readOnly: true, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        }
        try connection.sync { db in
            let version = try Self.checkCompatible(db)
            guard version == Migrations.latestVersion else {
                throw EngineError(.storeUnusable, version == 0
                    ? "\(path) holds no JobEngine store yet"
                    : "\(path) has schema version \(version), older than this engine's \(Migrations.latestVersion); run a command that writes (e.g. engine-run resume) once to upgrade it")
            }
            try db.execute("PRAGMA query_only = ON")
        }
        return connection
    }

    /// `file:` URI of `path` with `immutable=1` (sqlite.org/uri.html): "SQLite assumes that the database
    /// file cannot be changed, even by a process with higher privilege than itself".
    private static func immutableURI(_ path: String) -> String {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let allowed = CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "?#%"))
        return "file:" + (absolute.addingPercentEncoding(withAllowedCharacters: allowed) ?? absolute) + "?immutable=1"
    }

    /// Closes both connections at once, without touching any item: what a process exit does.
    /// Later calls on this store throw.
    package func close() {
        // The writer closes last: "When the last connection to a database closes, that connection
        // does a checkpoint and then deletes the WAL" (sqlite.org/wal.html). A read-only reader
        // closing last could not, and would leave the WAL behind.
        if reader !== writer { reader.close() }
        writer.close()
    }

    /// The folder where live engines hold their owner locks, beside the database file (its real
    /// path: a store reached through a symlink has one owners folder, not one per path).
    package var ownerLockDirectory: URL? {
        path == ":memory:" ? nil : URL(fileURLWithPath: canonicalPath + ".owners", isDirectory: true)
    }

    private static func configure(_ db: Connection) throws {
        try db.applyEngineFileSettings(pageSize: pageSize)
        try db.execute("PRAGMA foreign_keys = ON")
        try tune(db)
    }

    /// The page size of a new store. Every write transaction writes each page it touches whole to
    /// the WAL, and an item's claim or finish touches about eight (its row, two index entries, its
    /// job's counters, the event and its index): at 16 KiB pages the scheduler wrote about 350 KiB
    /// per one-document item and ran at 0.46 of the bare transitions; at 4 KiB, 0.76 (engine-bench,
    /// same hour). Staged documents sit in a rowid table (`schema/004_small_pages.sql`), which keeps
    /// rows of up to about 4 KB inline at this size. A store created with 16 KiB pages keeps them.
    static let pageSize = 4_096

    /// Settings measured with `engine-bench` (Benchmarks/README.md): the WAL is checkpointed every
    /// 64 MiB of pages instead of SQLite's 1,000 pages, so pages that staging rewrites
    /// again and again reach the database file once, and fewer checkpoints (each an fsync of the
    /// database) interrupt the writer; the checkpoint runs on a thread of its own (`WALCheckpointer`),
    /// not inside the writer's COMMIT. The page cache stays at SQLite's 2 MiB and nothing is memory
    /// mapped: a larger cache or a map of a store that grows with the staged documents showed up as
    /// resident memory growing with the document count (2× from 10,000 to 1,000,000 documents).
    static func tune(_ db: Connection) throws {
        try db.execute("PRAGMA cache_size = -2000")
        guard !db.isInMemory else { return }
        // In pages of the store's own size: a store made before schema 4 keeps 16 KiB pages.
        let pageSize = try db.execute("PRAGMA page_size").first?.int("page_size") ?? Self.pageSize
        try db.checkpointInBackground(thresholdPages: Int32((64 << 20) / pageSize))
    }

    /// The store's schema version (0 for an empty database), read without writing anything.
    ///
    /// - Throws: `EngineError` when the database belongs to another application or to a newer engine.
    private static func checkCompatible(_ db: Connection) throws -> Int {
        let tables = Set(try db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").compactMap { $0.string("name") })
        guard tables.contains("schema_versions") else {
            if tables.isEmpty { return 0 }
            throw EngineError(.storeUnusable, "\(db.path) is an SQLite database but not a JobEngine store (it has other tables)")
        }
        let current = try db.execute("SELECT MAX(version) AS version FROM schema_versions").first?.int("version") ?? 0
        if current > Migrations.latestVersion {
            throw EngineError(.storeNewerThanEngine,
                              "\(db.path) has schema version \(current), newer than this engine's \(Migrations.latestVersion); upgrade the engine")
        }
        return current
    }

    /// Applies the missing migrations, each in one transaction with its version row. The version is
    /// read again inside each transaction (which holds the write lock), so two processes opening a
    /// new store at once apply each migration once.
    private static func migrate(_ db: Connection, from current: Int) throws {
        guard current < Migrations.latestVersion else { return }
        try db.inTransaction {
            try db.execute("CREATE TABLE IF NOT EXISTS schema_versions (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)")
        }
        for migration in Migrations.all where migration.version > current {
            try db.inTransaction {
                let applied = try db.execute("SELECT MAX(version) AS version FROM schema_versions").first?.int("version") ?? 0
                guard applied < migration.version else { return }
                try db.executeScript(migration.sql, context: "applying migration \(migration.fileName)")
                try db.execute("INSERT INTO schema_versions (version, applied_at) VALUES (?, ?)",
                               [.integer(Int64(migration.version)), .real(Date().timeIntervalSince1970)])
            }
        }
    }

    /// Runs `body` again while SQLite answers SQLITE_BUSY, for up to `seconds`. Two processes opening
    /// a new store at once can get BUSY without the busy handler being consulted (one of them is
    /// switching the file to WAL mode); every step of opening is idempotent, so trying again is safe.
    private static func retryingWhileBusy(seconds: Double = 5, _ body: () throws -> Void) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            do {
                return try body()
            } catch let error as SQLiteError where error.isBusy && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
    }

    /// The longest this store's writer held SQLite's write lock in one transaction since it opened.
    package func longestWriteLockHold() -> Duration {
        writer.sync { db in db.lockShare.longestHold }
    }

    /// The schema version the store is at.
    package func schemaVersion() throws -> Int {
        try reader.sync { db in try db.execute("SELECT MAX(version) AS v FROM schema_versions").first?.int("v") ?? 0 }
    }

    /// `PRAGMA integrity_check`: "ok" when the database is sound.
    package func integrityCheck() throws -> String {
        try writer.sync { db in
            try db.execute("PRAGMA integrity_check").map { $0.string("integrity_check") ?? "" }.joined(separator: "\n")
        }
    }

    /// Checkpoint transactions committed since the store opened, and the checkpoints they carried.
    package var checkpointStatistics: (transactions: Int, checkpoints: Int) {
        let statistics = checkpoints.statistics
        return (statistics.transactions, statistics.writes)
    }

    static var now: Double { Date().timeIntervalSince1970 }
}
