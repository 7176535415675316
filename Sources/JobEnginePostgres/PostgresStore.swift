import Foundation
import JobEngine
import Logging

/// The store on PostgreSQL: the same seam (`JobStore`) and the same invariants as the SQLite store,
/// for many workers on many hosts sharing one database.
///
/// What differs from SQLite, and why:
/// - Claims take the next runnable item with `FOR UPDATE SKIP LOCKED` in the one statement that
///   sets the lease and increments the item's **fence**; every later commit of that worker is
///   conditioned on (item, owner, fence), so a worker paused past its lease (GC, partition,
///   SIGSTOP) never commits over the worker that took the item after it.
/// - Lease times come from the database's clock, never a worker's.
/// - Each lease records its worker's host id (`ENGINE_HOST_ID`, default the hostname).
/// - A submit is one transaction: under MVCC it blocks no other worker, so the SQLite store's
///   staging in steps (there to keep the one write lock short) is not needed; a crashed submit
///   leaves nothing behind.
/// - No file lock marks a live engine (hosts share no folder): leases alone tell the dead.
package final class PostgresStore: JobStore, @unchecked Sendable {
    package let path: String
    package let readOnly: Bool
    /// Where this host's engines on this store keep their owner locks: a worker on the same host
    /// that died is proven dead at once by its lock (as on SQLite), instead of after its lease. Per
    /// OS user (a folder another user made could not be written), so a worker of another user, like
    /// a worker on another host, is judged by its lease alone.
    package let ownerLockDirectory: URL?
    /// This process's host id, recorded with its leases and transitions.
    package let host: String
    let sessions: PostgresSessions
    let logger: Logger
    /// The owner and fence of each item this process claimed and still runs: its commits are
    /// conditioned on them.
    let leases = Locked<[String: (owner: String, fence: Int64)]>([:])
    private let counters = Locked<(transactions: Int, checkpoints: Int)>((0, 0))
    /// The checkpoint each item's last `postgres` sink batch committed with its rows, and its answer:
    /// the runner's commit of the same checkpoint right after finds it there instead of writing it again.
    let deliveredBatches = Locked<[String: (ingested: Int, fence: Int64, outcome: CheckpointOutcome)]>([:])
    /// Sink tables known to exist (`PostgresSink`), as "database table".
    let sinkTables = Locked<Set<String>>([])
    /// Other databases `postgres` sinks write to (`url_env`), by location.
    let sinkDatabases = Locked<[String: PostgresSessions]>([:])

    /// The database's clock in seconds since 1970, in SQL.
    static let now = "EXTRACT(EPOCH FROM clock_timestamp())::float8"

    /// Opens (creating its tables if needed) the store at `location`.
    ///
    /// - Throws: `EngineError` `.storeUnusable` when the server cannot be reached or refuses,
    ///   `.storeNewerThanEngine` when its schema is newer than this engine.
    package init(_ location: PostgresLocation, readOnly: Bool = false, hostID: String? = nil, logger: Logger) throws {
        path = location.description
        self.readOnly = readOnly
        self.logger = logger
        host = hostID ?? Self.defaultHostID
        sessions = PostgresSessions(location, logger: logger)
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a of the store's location: one folder per store
        for byte in location.description.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        ownerLockDirectory = FileManager.default.temporaryDirectory
            .appendingPathComponent("jobengine-owners-\(getuid())/\(String(hash, radix: 16))", isDirectory: true)
        do {
            if readOnly {
                let version = try sessions.withSession(retrying: false) { db in
                    guard try db.execute("SELECT to_regclass('schema_versions') IS NOT NULL AS known").first?.int("known") == 1 else { return 0 }
                    return try db.execute("SELECT COALESCE(MAX(version), 0) AS v FROM schema_versions").first?.int("v") ?? 0
                }
                guard version > 0 else {
                    throw EngineError(.storeUnusable, "the PostgreSQL store \(location) has no JobEngine tables yet (a command that writes creates them)")
                }
                guard version <= PostgresMigrations.latestVersion else {
                    throw EngineError(.storeNewerThanEngine, "the PostgreSQL store \(location) is at schema version \(version); this engine knows up to \(PostgresMigrations.latestVersion): upgrade the engine")
                }
            } else {
                try PostgresMigrations.apply(sessions)
            }
        } catch let error as EngineError {
            sessions.close()
            throw error
        } catch let error as StoreUnreachable {
            sessions.close()
            throw EngineError(.storeUnusable, error.reason)
        } catch {
            sessions.close()
            throw EngineError(.storeUnusable, "the PostgreSQL store \(location) cannot be used: \(String(reflecting: error))")
        }
    }

    /// `ENGINE_HOST_ID`, else the machine's hostname.
    package static var defaultHostID: String {
        if let id = ProcessEnvironment.value("ENGINE_HOST_ID"), !id.isEmpty { return id }
        return ProcessInfo.processInfo.hostName
    }

    package var checkpointStatistics: (transactions: Int, checkpoints: Int) { counters.withLock { $0 } }

    package func close() {
        for database in sinkDatabases.withLock({ Array($0.values) }) { database.close() }
        sessions.close()
    }

    // MARK: Wake-ups

    /// The channel of the engine's notifications; the payload names the store's schema, so stores
    /// in other schemas of the database ignore each other's.
    static let workChannel = "jobengine_work"
    var notificationPayload: String { sessions.location.schema ?? "" }

    /// Calls `handler` each time any worker of this store queues work (a submit, a retry), on any
    /// host: `NOTIFY`, sent in the transaction that queues it, so delivered only once it commits.
    package func onWorkQueued(_ handler: @escaping @Sendable () -> Void) {
        let payload = notificationPayload
        sessions.listen(Self.workChannel) { received in
            if received == payload { handler() }
        }
    }

    /// Tells every listening worker that work was queued, when the caller's transaction commits.
    func notifyWorkQueued(_ db: PostgresSession) throws {
        try db.execute("SELECT pg_notify($1, $2)", [.text(Self.workChannel), .text(notificationPayload)])
    }

    /// A write transaction of the worker path (claims, checkpoints, finishes), counted.
    func write<T>(checkpoint: Bool = false, _ body: (PostgresSession) throws -> T) throws -> T {
        try counted(checkpoint: checkpoint) { try sessions.transaction(body) }
    }

    /// One statement of the worker path, in its own transaction (one round trip), counted. Like a
    /// transaction, it runs again when its answer is lost: each such statement is safe to redo.
    func statement<T>(checkpoint: Bool = false, _ body: (PostgresSession) throws -> T) throws -> T {
        try counted(checkpoint: checkpoint) { try sessions.statement(body) }
    }

    /// `commit`'s result, its transaction counted (and as a checkpoint with `checkpoint`).
    private func counted<T>(checkpoint: Bool, _ commit: () throws -> T) throws -> T {
        let result = try commit()
        counters.withLock {
            $0.transactions += 1
            if checkpoint { $0.checkpoints += 1 }
        }
        return result
    }

    // MARK: Events

    /// Appends one transition to the history, inside the transaction that makes it.
    func recordEvent(_ db: PostgresSession, itemID: String, jobID: String, attempt: Int, from: WorkItemStatus?, to: WorkItemStatus,
                     mode: RetryMode? = nil, error: String? = nil, errorKind: ErrorKind? = nil) throws {
        try db.execute("""
            INSERT INTO events (item_id, job_id, attempt, from_status, to_status, mode, error, error_kind, host, at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \(Self.now))
            """, [.text(itemID), .text(jobID), .integer(Int64(attempt)), SQLValue(from?.rawValue), .text(to.rawValue),
                  SQLValue(mode?.rawValue), SQLValue(error), SQLValue(errorKind?.rawValue), .text(host)])
    }

    package func events(itemID: UUID) async throws -> [ItemEvent] {
        try await sessions.read { db in
            try db.execute("SELECT * FROM events WHERE item_id = $1 ORDER BY id", [.text(itemID.uuidString.lowercased())])
                .map { Store.decodeEvent($0, itemID: itemID) }
        }
    }

    // MARK: Faults and claimed work

    /// A redo after a lost answer must not count a second firing, nor report none: answered once.
    package func fireFault(jobID: UUID, itemName: String, phase: Phase, atDocument: Int, times: Int) throws -> Bool {
        try sessions.transactionAnsweredOnce { db in
            try !db.execute("""
                INSERT INTO fault_firings AS f (job_id, item_name, phase, at_document, fired) VALUES ($1, $2, $3, $4, 1)
                ON CONFLICT (job_id, item_name, phase, at_document) DO UPDATE SET fired = f.fired + 1 WHERE f.fired < $5
                RETURNING fired
                """, [.text(jobID.uuidString.lowercased()), .text(itemName), .text(phase.rawValue),
                      .integer(Int64(atDocument)), .integer(Int64(times))]).isEmpty
        }
    }

    package func claimWork(_ resource: String, token: String, itemID: String, owner: String) throws -> Bool {
        try write { db in
            let inserted = try db.change("""
                INSERT INTO claimed_work (resource, item_id, token, claimed_at)
                SELECT $1, id, $2, \(Self.now) FROM work_items WHERE id = $3 AND status = 'running' AND lease_owner = $4 AND fence = $5
                ON CONFLICT (resource) DO NOTHING
                """, [.text(resource), .text(token), .text(itemID), .text(owner), .integer(fence(itemID))])
            if inserted == 1 { return true }
            try checkLease(db, itemID: itemID, owner: owner)
            let holder = try db.execute("SELECT item_id, token FROM claimed_work WHERE resource = $1", [.text(resource)]).first
            return holder?.string("item_id") == itemID && holder?.string("token") == token
        }
    }

    /// `LeaseLost` for `owner`'s call on `itemID`, its claim forgotten when it is `owner`'s: the
    /// process may claim the item again (see `claimNext`).
    func leaseLost(_ itemID: String, owner: String) -> LeaseLost {
        let forgotten = leases.withLock { leases in
            guard leases[itemID]?.owner == owner else { return false }
            leases.removeValue(forKey: itemID)
            return true
        }
        if forgotten { deliveredBatches.withLock { _ = $0.removeValue(forKey: itemID) } }
        return LeaseLost(itemID: itemID)
    }

    /// This process's claim of `itemID` (its owner and fence); `LeaseLost` when it holds none.
    func heldClaim(_ itemID: String) throws -> (owner: String, fence: Int64) {
        guard let claim = leases.withLock({ $0[itemID] }) else { throw LeaseLost(itemID: itemID) }
        return claim
    }

    /// The fence this process's claim of `itemID` got; -1 (matching nothing) for an item it never claimed.
    func fence(_ itemID: String) -> Int64 { leases.withLock { $0[itemID]?.fence } ?? -1 }

    /// Throws `LeaseLost` unless `owner` still holds the item under the fence of its claim.
    func checkLease(_ db: PostgresSession, itemID: String, owner: String) throws {
        guard try !db.execute("""
            SELECT 1 FROM work_items WHERE id = $1 AND status = 'running' AND lease_owner = $2 AND fence = $3
            """, [.text(itemID), .text(owner), .integer(fence(itemID))]).isEmpty else { throw leaseLost(itemID, owner: owner) }
    }
}
