import Foundation
import JobEngine
import PostgresNIO

/// The `postgres` ingester.
///
/// `{"type": "postgres", "table": "docs", "batch_size": 100}`: each batch's rows go into a table of
/// the store's own database in the statement that records the batch's checkpoint, so a batch is in
/// the table exactly when its checkpoint is: exactly-once by construction, on any host, whatever is
/// killed when. The table (created if missing) has the columns `job`, `item`, `seq`, `key`, `data`
/// (JSONB), keyed by (job, item, seq) like the SQLite sink's (invariant 7: a job's rows are its own).
///
/// With `"url_env": "SINK_DATABASE_URL"` the rows go into the database whose URL that environment
/// variable holds (on every host): see `PostgresStore.claimRows` and `upsertRows`.
struct PostgresSink: Ingester {
    let store: PostgresStore
    let table: String
    let jobName: String
    /// The other database's connections when `url_env` names one; nil for the store's own database.
    let elsewhere: PostgresSessions?

    static let type = "postgres"

    static let validate: ComponentRegistry.Validator = { reader, _ in
        _ = table(reader)
        _ = urlVariable(reader)
        _ = reader.int("batch_size", default: 100, in: 1...100_000)
        reader.rejectUnknownKeys(allowed: ["type"])
    }

    private static func table(_ reader: FieldReader) -> String? {
        guard let table = reader.string("table") else { return nil }
        guard table.range(of: "^[a-z_][a-z0-9_]{0,62}$", options: .regularExpression) != nil else {
            reader.report("table", "must be a lower-case SQL identifier (letters, digits, _), e.g. \"docs\"; got \"\(table)\"")
            return nil
        }
        return table
    }

    private static func urlVariable(_ reader: FieldReader) -> String? {
        guard let variable = reader.string("url_env", required: false) else { return nil }
        guard variable.range(of: "^[A-Za-z_][A-Za-z0-9_]*$", options: .regularExpression) != nil else {
            reader.report("url_env", "must name an environment variable (letters, digits and _, not starting with a digit), e.g. \"SINK_DATABASE_URL\"; got \"\(variable)\"")
            return nil
        }
        return variable
    }

    init(store: PostgresStore, context: ComponentContext) throws {
        self.store = store
        let (table, variable) = try context.read("ingester") { (Self.table($0), Self.urlVariable($0)) }
        self.table = table ?? ""
        jobName = context.jobName
        guard let variable else {
            elsewhere = nil
            return
        }
        guard let url = ProcessEnvironment.value(variable), !url.isEmpty else {
            throw PhaseError.permanent("postgres ingester: the environment variable \(variable) (ingester.url_env) is not set; export the sink database's URL in it (postgres://user@host:port/database)")
        }
        do {
            elsewhere = store.sinkDatabase(try PostgresLocation(url: url))
        } catch let error as EngineError {
            throw PhaseError.permanent("postgres ingester: ingester.url_env (\(variable)): \(error.message)")
        }
    }

    func prepare(for item: ItemContext, sinkOffset: Int64?) throws {
        if let elsewhere {
            try store.claimRows(table: table, jobName: jobName, item: item, in: elsewhere, deleting: false)
        } else {
            try store.createSinkTable(table)
        }
    }

    /// In the store's database: the batch and its checkpoint in one statement; the runner's commit
    /// of the same checkpoint after it finds it made (`PostgresStore.commitBatch`). Elsewhere: the
    /// rows, upserted; the runner then commits the checkpoint.
    func ingest(_ batch: Batch) throws -> Int64? {
        if let elsewhere {
            try store.upsertRows(batch, table: table, jobName: jobName, into: elsewhere)
        } else {
            try store.commitRows(batch, table: table, jobName: jobName)
        }
        return nil
    }

    /// A restart's reset: the item's earlier rows go (only this job's: rows carry the job).
    func reset(for item: ItemContext) throws {
        if let elsewhere {
            try store.claimRows(table: table, jobName: jobName, item: item, in: elsewhere, deleting: true)
        } else {
            try store.createSinkTable(table)
            try store.deleteRows(table: table, jobName: jobName, item: item)
        }
    }
}

extension PostgresStore {
    /// Creates a sink table of the store's database if it is missing (once per table and store).
    func createSinkTable(_ table: String) throws {
        guard sinkTables.withLock({ !$0.contains(table) }) else { return }
        try sessions.transaction { db in
            // Two workers creating it at once would collide in the catalog (IF NOT EXISTS does not
            // guard against that): one at a time per table.
            try db.execute("SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ' sink ' || $1, 0))", [.text(table)])
            // The name was validated as an identifier; a name cannot be bound as a parameter.
            try db.execute("""
                CREATE TABLE IF NOT EXISTS \(table) (job TEXT NOT NULL, item TEXT NOT NULL, seq BIGINT NOT NULL, key TEXT NOT NULL,
                data JSONB NOT NULL, PRIMARY KEY (job, item, seq))
                """)
        }
        sinkTables.withLock { _ = $0.insert(table) }
    }

    /// The batch's rows and its ingest checkpoint in one statement (`jobengine_deliver_rows`,
    /// schema/postgres/002), conditioned on this process's lease and fence of the item (a worker
    /// that lost it writes no row).
    func commitRows(_ batch: Batch, table: String, jobName: String) throws {
        let itemID = batch.item.itemID.uuidString.lowercased()
        let lease = try heldClaim(itemID)
        guard let last = batch.documents.last else { throw LeaseLost(itemID: itemID) }
        var bindings = PostgresBindings(capacity: 10)
        bindings.append(table)
        Self.appendRows(of: batch, jobName: jobName, to: &bindings)
        bindings.append(itemID)
        bindings.append(lease.owner)
        bindings.append(lease.fence)
        bindings.append(Int64(last.seq + 1))
        let answer = try statement(checkpoint: true) { db in
            try db.execute("""
                SELECT jobengine_deliver_rows($1, $2, $3, $4::bigint[], $5::text[], $6::text[], $7, $8, $9, $10) AS answer
                """, bindings: bindings).first?.int("answer")
        }
        let outcome = try outcome(answer, itemID: itemID, owner: lease.owner)
        deliveredBatches.withLock { $0[itemID] = (last.seq + 1, lease.fence, outcome) }
    }

    /// The batch as rows of a sink table, five bindings: job, item, and the arrays of seq, key and
    /// data (JSON text) that `unnest` turns into rows.
    static func appendRows(of batch: Batch, jobName: String, to bindings: inout PostgresBindings) {
        bindings.append(jobName)
        bindings.append(batch.item.itemName)
        bindings.append(batch.documents.map { Int64($0.seq) })
        bindings.append(batch.documents.map(\.document.key))
        bindings.append(batch.documents.map { String(decoding: $0.document.body, as: UTF8.self) })
    }

    /// A restart's reset of the item's rows, under this worker's lease and fence (a worker that
    /// lost the item must not delete what its successor delivered).
    func deleteRows(table: String, jobName: String, item: ItemContext) throws {
        let itemID = item.itemID.uuidString.lowercased()
        let lease = try heldClaim(itemID)
        _ = try write { db in
            try lockLease(db, itemID: itemID, owner: lease.owner)
            try db.execute("DELETE FROM \(table) WHERE job = $1 AND item = $2", [.text(jobName), .text(item.itemName)])
        }
    }
}
