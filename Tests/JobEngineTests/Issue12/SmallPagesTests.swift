import Foundation
import Testing

@testable import JobEngine

/// Migration 4: new stores use 4 KiB pages, staged documents stay inline at that size, and a store
/// made before it keeps its staged documents through the upgrade.
@Suite struct SmallPagesTests {
    @Test func aNewStoreHasSmallPagesAndKeepsKilobyteDocumentsInline() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let job = try await engine.submit(makeSpec(documents: 300), baseDirectory: folder.url).job
        #expect(try query(folder.storePath, "PRAGMA page_size").first?.int("page_size") == 4_096)
        let claim = try #require(try claimDirectly(engine, jobID: job.id))
        let pages = { try query(folder.storePath, "PRAGMA page_count").first?.int("page_count") ?? 0 }
        let before = try pages()
        let documents = (0..<300).map { Document(key: "k\($0)", body: Data(repeating: UInt8(ascii: "x"), count: 1_024)) }
        _ = try engine.sqliteStore.commitPage(itemID: claim.item.id.uuidString.lowercased(), owner: engine.owner, firstSeq: 0,
                                              documents: documents, nextCursor: "next", sync: .normal)
        // Inline, three or so 1 KiB rows share a 4 KiB page (about 100 pages); an overflow page per
        // document would take at least 300.
        let grown = try pages() - before
        #expect(grown > 50 && grown < 150, "300 staged documents of 1 KiB took \(grown) pages")
        #expect(try engine.sqliteStore.stagedDocuments(itemID: claim.item.id.uuidString.lowercased(), from: 0, limit: 1_000)
            .map(\.seq) == Array(0..<300))
        await engine.shutdown()
    }

    /// An IN list in a CHECK constraint made SQLite build a temporary index for every insert and
    /// update of an item; the constraints are OR chains now, and still refuse what they refused.
    @Test func itemWritesBuildNoTemporaryIndexAndTheConstraintsStillHold() throws {
        let folder = try TemporaryDirectory()
        try Store(path: folder.storePath).close()
        let writes = [
            """
            INSERT INTO work_items (id, job_id, name, position, status, phase, params_json, params_fingerprint, created_at,
            updated_at) VALUES ('i', 'j', 'n', 0, 'pending', 'collect', '{}', 'f', 0, 0)
            """,
            "UPDATE work_items SET status = 'failed', phase = 'ingest', error_kind = 'transient', retry_mode = 'recover' WHERE id = 'i'",
            "INSERT INTO checkpoints (item_id, phase, documents, updated_at) VALUES ('i', 'collect', 0, 0)",
            "UPDATE jobs SET submit_state = 'staging' WHERE id = 'j'",
        ]
        for sql in writes {
            let program = try query(folder.storePath, "EXPLAIN " + sql).compactMap { $0.string("opcode") }
            #expect(!program.contains("OpenEphemeral"), "\(sql)")
        }
        try query(folder.storePath, """
            INSERT INTO jobs (id, name, spec_json, settings_json, spec_version, base_directory, created_at, updated_at)
            VALUES ('j', 'job', '{}', '{}', 1, '/', 0, 0)
            """)
        try query(folder.storePath, writes[0])
        for bad in ["UPDATE work_items SET status = 'done' WHERE id = 'i'", "UPDATE work_items SET phase = 'x' WHERE id = 'i'",
                    "UPDATE work_items SET error_kind = 'x' WHERE id = 'i'", "UPDATE work_items SET retry_mode = 'x' WHERE id = 'i'",
                    "UPDATE jobs SET submit_state = 'x' WHERE id = 'j'"] {
            #expect(throws: SQLiteError.self, "\(bad)") { try query(folder.storePath, bad) }
        }
        #expect(try query(folder.storePath, "PRAGMA integrity_check").first?.string("integrity_check") == "ok")
    }

    @Test func aStoreMadeBeforeTheUpgradeKeepsItsStagedDocuments() throws {
        let folder = try TemporaryDirectory()
        // A version 3 store as an older engine left it: 16 KiB pages, one item with staged documents.
        do {
            let db = try Connection(path: folder.storePath)
            try db.applyEngineFileSettings(pageSize: 16_384)
            try db.execute("CREATE TABLE schema_versions (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)")
            for migration in Migrations.all.prefix(3) {
                try db.executeScript(migration.sql, context: migration.fileName)
                try db.execute("INSERT INTO schema_versions VALUES (?, 0)", [.integer(Int64(migration.version))])
            }
            try db.execute("""
                INSERT INTO jobs (id, name, spec_json, settings_json, spec_version, base_directory, created_at, updated_at)
                VALUES ('j', 'old', '{}', '{}', 1, '/', 0, 0)
                """)
            try db.execute("""
                INSERT INTO work_items (id, job_id, name, position, status, phase, params_json, params_fingerprint,
                created_at, updated_at) VALUES ('i', 'j', 'a', 0, 'failed', 'ingest', '{}', 'f', 0, 0)
                """)
            for seq in 0..<3 {
                try db.execute("INSERT INTO staged_documents VALUES ('i', ?, ?, ?)",
                               [.integer(Int64(seq)), .text("k\(seq)"), .blob(Data("doc \(seq)".utf8))])
            }
            db.close()
        }
        let store = try Store(path: folder.storePath)
        #expect(try store.schemaVersion() == Migrations.latestVersion)
        #expect(try store.stagedDocuments(itemID: "i", from: 1, limit: 10).map(\.document.key) == ["k1", "k2"])
        let indexes = try query(folder.storePath, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('work_items', 'staged_documents')")
            .compactMap { $0.string("name") }
        #expect(indexes.contains("work_items_running") && indexes.contains("staged_documents_by_item"))
        #expect(!indexes.contains("work_items_by_status"))
        // A store keeps the page size it was made with.
        #expect(try query(folder.storePath, "PRAGMA page_size").first?.int("page_size") == 16_384)
        #expect(try store.integrityCheck() == "ok")
        store.close()
    }
}
