import Foundation

/// `{"type": "sqlite", "path": "out/sink.sqlite", "table": "documents", "batch_size": 100}`
///
/// Writes rows `(job, item, seq, key, data)` into a table of a SQLite file (`job` is the job's name,
/// `data` the document body as text), each batch in one transaction, upserting on (job, item, seq):
/// a batch delivered again after a crash overwrites itself, so each document is stored once.
/// Restart deletes the item's rows of its own job, never another job's (invariant 7).
final class SQLiteIngester: Ingester {
    private let database: SerializedDatabase
    private let path: String
    private let table: String
    private let itemName: String
    private let jobName: String
    private var released = false

    /// The options, read once by one reader for validation and construction alike.
    struct Options {
        let path: String?
        let table: String

        init(_ reader: FieldReader) {
            path = reader.string("path")
            table = reader.string("table", required: false) ?? "documents"
            if !isIdentifier(table) {
                reader.report("table", "must be a plain table name (letters, digits, _; not starting with a digit)")
            }
        }
    }

    init(context: ComponentContext, item: ItemContext) throws {
        let options = try context.read("ingester", Options.init)
        let table = options.table
        let url = context.path(options.path ?? "", item: item.itemName)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        self.path = url.standardizedFileURL.path
        // The store's file settings: at SQLite's default 4 KiB pages the reference workload's sink
        // file grew to 467 MB for 100 MB of documents (118 MB at 16 KiB).
        database = try SinkConnections.acquire(path: self.path) { try $0.applyEngineFileSettings(pageSize: 16_384) }
        self.table = table
        itemName = item.itemName
        jobName = item.jobName
        do {
            try database.sync { [path] connection in
                // The strictest durability any of its items asks for.
                if context.sync == .full { try connection.setSynchronous(.full) }
                // The table name is validated as an identifier above; it cannot be bound as a parameter.
                try connection.execute("""
                    CREATE TABLE IF NOT EXISTS "\(table)" (job TEXT NOT NULL, item TEXT NOT NULL, seq INTEGER NOT NULL,
                    key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (job, item, seq)) WITHOUT ROWID
                    """)
                let columns = try connection.execute("SELECT name FROM pragma_table_info(?)", [.text(table)]).compactMap { $0.string("name") }
                guard columns.contains("job") else {
                    throw PhaseError.permanent("table \(table) of \(path) has no job column (an earlier engine made it, keyed by item alone, so jobs would overwrite each other's rows); choose another table or file")
                }
            }
        } catch {
            SinkConnections.release(path: self.path)
            throw error
        }
    }

    deinit { finish() }

    static let validate: ComponentRegistry.Validator = { reader, context in
        if let path = Options(reader).path, let folder = context.paths(path).first?.deletingLastPathComponent(),
           !JSONLIngester.canCreate(in: folder)
        {
            reader.report("path", "cannot write to \(folder.path) (not a writable folder)")
        }
        reader.rejectUnknownKeys()
    }

    func ingest(_ batch: Batch) throws -> Int64? {
        try database.write { connection in
            try connection.executeEach("""
                INSERT INTO "\(table)" (job, item, seq, key, data) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (job, item, seq) DO UPDATE SET key = excluded.key, data = excluded.data
                """, batch.documents) { entry in
                [.text(jobName), .text(itemName), .integer(Int64(entry.seq)), .text(entry.document.key),
                 .text(String(decoding: entry.document.body, as: UTF8.self))]
            }
        }
        return nil
    }

    func reset(for item: ItemContext) throws {
        try database.sync { connection in
            try connection.execute("DELETE FROM \"\(table)\" WHERE job = ? AND item = ?", [.text(jobName), .text(itemName)])
        }
    }

    func finish(for item: ItemContext) {
        finish()
    }

    private func finish() {
        guard !released else { return }
        released = true
        SinkConnections.release(path: path)
    }

    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !CharacterSet.decimalDigits.contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && CharacterSet.alphanumerics.contains($0)) }
    }
}
