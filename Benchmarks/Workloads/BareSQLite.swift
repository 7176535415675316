import CSQLite
import Foundation
import JobEngine

/// The physical limit: a bare loop over the SQLite C API doing exactly the writes the design needs
/// for the reference workload, with no engine around it. Each page: its documents staged and the
/// collect checkpoint upserted in one transaction. Each batch: its rows upserted into the sink
/// file in one transaction, then the ingest checkpoint in the store, in one transaction with the
/// deletion of the batch's staged copies (the design keeps staging as small as the work left).
/// Documents stay in memory between the phases (the engine reads them back from the store), so
/// this is a ceiling.
public enum BareSQLite {
    /// Runs the workload single-threaded and returns its wall time in seconds.
    public static func runReference(_ workload: ReferenceWorkload, storePath: String, sinkPath: String) -> Double {
        let store = RawDatabase(path: storePath)
        let sink = RawDatabase(path: sinkPath)
        store.exec("""
            CREATE TABLE staged (item TEXT NOT NULL, seq INTEGER NOT NULL, key TEXT NOT NULL, body BLOB NOT NULL,
              PRIMARY KEY (item, seq)) WITHOUT ROWID;
            CREATE TABLE checkpoints (item TEXT NOT NULL, phase TEXT NOT NULL, cursor TEXT, documents INTEGER NOT NULL,
              sink_offset INTEGER, PRIMARY KEY (item, phase)) WITHOUT ROWID;
            """)
        sink.exec("""
            CREATE TABLE documents (item TEXT NOT NULL, seq INTEGER NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL,
              PRIMARY KEY (item, seq)) WITHOUT ROWID;
            """)
        let stage = store.prepare("INSERT INTO staged (item, seq, key, body) VALUES (?, ?, ?, ?)")
        let checkpoint = store.prepare("""
            INSERT INTO checkpoints (item, phase, cursor, documents, sink_offset) VALUES (?, ?, ?, ?, NULL)
            ON CONFLICT (item, phase) DO UPDATE SET cursor = excluded.cursor, documents = excluded.documents
            """)
        let unstage = store.prepare("DELETE FROM staged WHERE item = ? AND seq < ?")
        let deliver = sink.prepare("""
            INSERT INTO documents (item, seq, key, data) VALUES (?, ?, ?, ?)
            ON CONFLICT (item, seq) DO UPDATE SET key = excluded.key, data = excluded.data
            """)

        let start = Date()
        for itemIndex in 0..<workload.items {
            let item = String(format: "item-%05d", itemIndex)
            var documents: [(key: String, body: Data)] = []
            documents.reserveCapacity(workload.documentsPerItem)
            for page in 0..<workload.pagesPerItem {
                store.exec("BEGIN IMMEDIATE")
                for offset in 0..<workload.pageSize {
                    let seq = page * workload.pageSize + offset
                    let key = "\(item)-\(seq)"
                    let body = SyntheticDocument.body(key: key, bytes: workload.documentBytes)
                    documents.append((key, body))
                    stage.run([.text(item), .integer(Int64(seq)), .text(key), .blob(body)])
                }
                let next = (page + 1) * workload.pageSize
                checkpoint.run([.text(item), .text("collect"), .text(String(next)), .integer(Int64(next))])
                store.exec("COMMIT")
            }
            var seq = 0
            while seq < documents.count {
                let end = min(documents.count, seq + workload.batchSize)
                sink.exec("BEGIN IMMEDIATE")
                for index in seq..<end {
                    deliver.run([.text(item), .integer(Int64(index)), .text(documents[index].key),
                                 .text(String(decoding: documents[index].body, as: UTF8.self))])
                }
                sink.exec("COMMIT")
                store.exec("BEGIN IMMEDIATE")
                checkpoint.run([.text(item), .text("ingest"), .null, .integer(Int64(end))])
                unstage.run([.text(item), .integer(Int64(end))])
                store.exec("COMMIT")
                seq = end
            }
        }
        return Date().timeIntervalSince(start)
    }
}

/// The least code that drives the SQLite C API: enough for the bare baselines, nothing more.
/// Failures crash, since a baseline that silently skips writes would flatter the engine.
final class RawDatabase {
    let handle: OpaquePointer

    init(path: String) {
        var db: OpaquePointer?
        precondition(sqlite3_open(path, &db) == SQLITE_OK, "cannot open \(path)")
        handle = db!
        // The same page size and WAL settings as the engine's store: the baseline is the physical
        // limit, not a default configuration.
        exec("PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 4000;")
    }

    deinit { sqlite3_close_v2(handle) }

    func exec(_ sql: String) {
        let code = sqlite3_exec(handle, sql, nil, nil, nil)
        precondition(code == SQLITE_OK, "\(sql): \(String(cString: sqlite3_errmsg(handle)))")
    }

    func prepare(_ sql: String) -> RawStatement { RawStatement(database: self, sql: sql) }

    /// The first column of each row `sql` returns, as integers.
    func integers(_ sql: String) -> [Int64] {
        var statement: OpaquePointer?
        precondition(sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, "\(sql): \(String(cString: sqlite3_errmsg(handle)))")
        defer { sqlite3_finalize(statement) }
        var values: [Int64] = []
        while sqlite3_step(statement) == SQLITE_ROW { values.append(sqlite3_column_int64(statement, 0)) }
        return values
    }
}

final class RawStatement {
    let statement: OpaquePointer
    let database: RawDatabase

    init(database: RawDatabase, sql: String) {
        var statement: OpaquePointer?
        precondition(sqlite3_prepare_v2(database.handle, sql, -1, &statement, nil) == SQLITE_OK,
                     "\(sql): \(String(cString: sqlite3_errmsg(database.handle)))")
        self.statement = statement!
        self.database = database
    }

    deinit { sqlite3_finalize(statement) }

    func run(_ values: [SQLValue]) {
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            switch value {
            case .null: sqlite3_bind_null(statement, index)
            case .integer(let int): sqlite3_bind_int64(statement, index, int)
            case .real(let double): sqlite3_bind_double(statement, index, double)
            case .text(let text): jobengine_bind_text(statement, index, text, Int32(text.utf8.count))
            case .blob(let data):
                _ = data.withUnsafeBytes { jobengine_bind_blob(statement, index, $0.baseAddress, Int32($0.count)) }
            }
        }
        let code = sqlite3_step(statement)
        precondition(code == SQLITE_DONE, "step: \(String(cString: sqlite3_errmsg(database.handle)))")
        sqlite3_reset(statement)
    }
}
