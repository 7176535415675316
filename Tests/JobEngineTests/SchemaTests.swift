import CSQLite
import Foundation
import Testing

@testable import JobEngine

@Suite struct SchemaTests {
    @Test func embeddedMigrationsEqualTheSchemaFiles() throws {
        let schemaFolder = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("schema")
        let files = try FileManager.default.contentsOfDirectory(atPath: schemaFolder.path)
            .filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files == Migrations.all.map(\.fileName))
        for migration in Migrations.all {
            let text = try String(contentsOf: schemaFolder.appendingPathComponent(migration.fileName), encoding: .utf8)
            #expect(text == migration.sql, "embedded copy of \(migration.fileName) differs from the file")
        }
    }

    @Test(arguments: ["memory", "file"])
    func storeOpensMigratedWithItsSettings(kind: String) throws {
        let folder = try TemporaryDirectory()
        let path = kind == "memory" ? ":memory:" : folder.storePath
        let store = try Store(path: path)
        #expect(try store.schemaVersion() == Migrations.latestVersion)
        let settings = try store.writer.sync { db throws -> (String?, Int?, Int?) in
            (try db.execute("PRAGMA journal_mode").first?.string("journal_mode"),
             try db.execute("PRAGMA foreign_keys").first?.int("foreign_keys"),
             try db.execute("PRAGMA synchronous").first?.int("synchronous"))
        }
        #expect(settings.0 == (kind == "memory" ? "memory" : "wal"))
        #expect(settings.1 == 1)
        #expect(settings.2 == 1)  // NORMAL
        #expect(try store.integrityCheck() == "ok")
        store.close()
        if kind == "file" {
            // Reopening applies nothing twice.
            let again = try Store(path: path)
            #expect(try again.schemaVersion() == Migrations.latestVersion)
            #expect(try query(path, "SELECT COUNT(*) AS n FROM schema_versions").first?.int("n") == Migrations.all.count)
        }
    }

    @Test func aStoreFromANewerEngineIsRefusedUntouched() throws {
        let folder = try TemporaryDirectory()
        try Store(path: folder.storePath).close()
        try query(folder.storePath, "INSERT INTO schema_versions (version, applied_at) VALUES (99, 0)")
        let error = try #require(throws: EngineError.self) { try Store(path: folder.storePath) }
        #expect(error.code == .storeNewerThanEngine)
        #expect(error.message.contains("99"))
    }

    @Test func aFileThatIsNotSQLiteIsRefusedAndLeftAsItWas() throws {
        let folder = try TemporaryDirectory()
        let contents = Data(String(repeating: "not a database\n", count: 100).utf8)
        try contents.write(to: URL(fileURLWithPath: folder.storePath))
        let error = try #require(throws: EngineError.self) { try Store(path: folder.storePath) }
        #expect(error.code == .storeUnusable)
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder.storePath)) == contents)
    }

    @Test func anotherApplicationsDatabaseIsRefused() throws {
        let folder = try TemporaryDirectory()
        try query(folder.storePath, "CREATE TABLE customers (id INTEGER)")
        let error = try #require(throws: EngineError.self) { try Store(path: folder.storePath) }
        #expect(error.code == .storeUnusable)
        #expect(try query(folder.storePath, "SELECT name FROM sqlite_master WHERE name = 'jobs'").isEmpty)
    }

    @Test func sqliteErrorsSayWhatWasBeingDone() throws {
        let connection = try Connection(path: ":memory:")
        let error = try #require(throws: SQLiteError.self) { try connection.execute("SELECT * FROM missing_table") }
        #expect(error.description.contains("missing_table"))
        #expect(error.description.contains("preparing a statement"))
        #expect(error.code == SQLITE_ERROR)
    }

    @Test func eventsAreAppendOnly() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath)
        _ = try await engine.submit(makeSpec(), baseDirectory: folder.url)
        engine.close()
        #expect(throws: SQLiteError.self) { try query(folder.storePath, "UPDATE events SET error = 'rewritten'") }
        #expect(throws: SQLiteError.self) { try query(folder.storePath, "DELETE FROM events") }
        #expect(try query(folder.storePath, "SELECT COUNT(*) AS n FROM events").first?.int("n") == 1)
    }
}
