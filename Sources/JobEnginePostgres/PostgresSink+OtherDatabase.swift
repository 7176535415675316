import Foundation
import JobEngine
import PostgresNIO

/// The `postgres` sink writing into another database (`url_env`).
///
/// One transaction cannot span two databases: a batch's rows are upserted on their key first and
/// the checkpoint committed in the store after, so a batch delivered again after a crash replaces
/// itself (exactly-once, as the SQLite sink). Fencing reaches across: the sink database keeps, per
/// table, job and item, the newest claim that prepared to write there (`jobengine_sink_claims`:
/// the work item's id and its fence). Each batch is written only while its claim is that newest
/// one (its row read `FOR SHARE` in the same statement), so a worker paused past its lease writes
/// nothing once its successor prepared, and cannot put rows back after the successor's reset. A
/// job name used again after a prune (new work items, fences from 1) takes the rows over by its
/// item id.
extension PostgresStore {
    /// The connections to another database a `postgres` sink writes to: one set per database,
    /// shared by the store's sinks, closed with the store.
    func sinkDatabase(_ location: PostgresLocation) -> PostgresSessions {
        sinkDatabases.withLock { databases in
            if let known = databases[location.description] { return known }
            let sessions = PostgresSessions(location, maximum: 8, logger: logger)
            databases[location.description] = sessions
            return sessions
        }
    }

    /// Makes this claim of the item the newest in the sink database (creating the tables if
    /// missing), and with `deleting` (a restart's reset) deletes the item's rows there, in one
    /// transaction. `LeaseLost` when a newer claim of the item got there first.
    func claimRows(table: String, jobName: String, item: ItemContext, in elsewhere: PostgresSessions, deleting: Bool) throws {
        let itemID = item.itemID.uuidString.lowercased()
        let lease = try heldClaim(itemID)
        try createOtherTables(table, in: elsewhere)
        let newest = try elsewhere.transaction { db in
            let holder = try db.execute("""
                INSERT INTO jobengine_sink_claims AS c (sink_table, job, item, item_id, fence) VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (sink_table, job, item) DO UPDATE SET item_id = excluded.item_id, fence = excluded.fence
                WHERE c.item_id <> excluded.item_id OR c.fence < excluded.fence
                RETURNING fence
                """, [.text(table), .text(jobName), .text(item.itemName), .text(itemID), .integer(lease.fence)]).first
            // No row back: the claim row was left as it was, by a claim as new or newer.
            let current = try holder ?? db.execute("""
                SELECT item_id, fence FROM jobengine_sink_claims WHERE sink_table = $1 AND job = $2 AND item = $3
                """, [.text(table), .text(jobName), .text(item.itemName)]).first
            guard current?.int64("fence") == lease.fence, holder != nil || current?.string("item_id") == itemID else { return false }
            if deleting {
                try db.execute("DELETE FROM \(table) WHERE job = $1 AND item = $2", [.text(jobName), .text(item.itemName)])
            }
            return true
        }
        guard newest else { throw LeaseLost(itemID: itemID) }
    }

    /// The batch's rows, upserted on their key, while this claim is the item's newest in the sink
    /// database; `LeaseLost` (nothing written) when it is not.
    func upsertRows(_ batch: Batch, table: String, jobName: String, into elsewhere: PostgresSessions) throws {
        let itemID = batch.item.itemID.uuidString.lowercased()
        let lease = try heldClaim(itemID)
        var bindings = PostgresBindings(capacity: 8)
        Self.appendRows(of: batch, jobName: jobName, to: &bindings)
        bindings.append(lease.fence)
        bindings.append(itemID)
        bindings.append(table)
        let written = try elsewhere.statement { db in
            try db.execute("""
                WITH newest AS (SELECT 1 FROM jobengine_sink_claims WHERE sink_table = $8 AND job = $1 AND item = $2
                                AND item_id = $7 AND fence = $6 FOR SHARE)
                INSERT INTO \(table) (job, item, seq, key, data, fence)
                SELECT $1, $2, s, k, d::jsonb, $6 FROM unnest($3::bigint[], $4::text[], $5::text[]) AS u (s, k, d)
                WHERE EXISTS (SELECT 1 FROM newest)
                ON CONFLICT (job, item, seq) DO UPDATE SET key = excluded.key, data = excluded.data, fence = excluded.fence
                RETURNING 1 AS written
                """, bindings: bindings).count
        }
        guard written == batch.documents.count else { throw LeaseLost(itemID: itemID) }
    }

    /// The sink table (with the fence of the claim that wrote each row) and the claims table, if
    /// missing, once per table and database.
    private func createOtherTables(_ table: String, in elsewhere: PostgresSessions) throws {
        let known = "\(elsewhere.location.description) \(table)"
        guard sinkTables.withLock({ !$0.contains(known) }) else { return }
        try elsewhere.transaction { db in
            try db.execute("SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ' sink ' || $1, 0))", [.text(table)])
            try db.execute("""
                CREATE TABLE IF NOT EXISTS jobengine_sink_claims (sink_table TEXT NOT NULL, job TEXT NOT NULL, item TEXT NOT NULL,
                item_id TEXT NOT NULL, fence BIGINT NOT NULL, PRIMARY KEY (sink_table, job, item))
                """)
            // The name was validated as an identifier; a name cannot be bound as a parameter.
            try db.execute("""
                CREATE TABLE IF NOT EXISTS \(table) (job TEXT NOT NULL, item TEXT NOT NULL, seq BIGINT NOT NULL, key TEXT NOT NULL,
                data JSONB NOT NULL, fence BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (job, item, seq))
                """)
            // A table made before (by the store-database sink, or by hand) gets the column.
            try db.execute("ALTER TABLE \(table) ADD COLUMN IF NOT EXISTS fence BIGINT NOT NULL DEFAULT 0")
        }
        sinkTables.withLock { _ = $0.insert(known) }
    }
}
