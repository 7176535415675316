import Foundation
import Logging
import Testing

@testable import JobEngine
@testable import JobEnginePostgres

@Suite struct PostgresSchemaTests {
    @Test func embeddedMigrationsEqualTheSchemaFiles() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("schema/postgres")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files == PostgresMigrations.all.map(\.fileName))
        for migration in PostgresMigrations.all {
            let text = try String(contentsOf: folder.appendingPathComponent(migration.fileName), encoding: .utf8)
            #expect(text == migration.sql, "embedded copy of \(migration.fileName) differs from the file")
        }
    }

    @Test func aMigrationIsSplitIntoItsStatementsAroundQuotesBodiesAndComments() {
        let sql = """
            -- a comment; with a semicolon
            CREATE TABLE t (a TEXT DEFAULT 'x;y');
            CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'no; never';
            END;
            $$;
            ALTER TABLE t SET (fillfactor = 90)
            """
        let statements = PostgresMigrations.statements(of: sql)
        #expect(statements.count == 3)
        #expect(statements[0] == "CREATE TABLE t (a TEXT DEFAULT 'x;y')")
        #expect(statements[1].hasPrefix("CREATE FUNCTION f()") && statements[1].hasSuffix("END;\n$$"))
        #expect(statements[2] == "ALTER TABLE t SET (fillfactor = 90)")
    }

    @Test func aBadURLIsRefusedByWhatIsWrong() {
        for (url, problem) in [("mysql://u@h/db", "is not a postgres:// URL"), ("postgres://h/db", "has no user"),
                               ("postgres://u@h/", "names no database"), ("postgres://u:secret@h/db?search_path=Bad-Name", "search_path")] {
            let error = #expect(throws: EngineError.self) { try PostgresLocation(url: url) }
            #expect(error?.message.contains(problem) == true, "\(url): \(error?.message ?? "")")
            #expect(error?.message.contains("secret") == false, "the password is never shown")
        }
    }

    @Test(.enabled(if: TestPostgres.url != nil || TestPostgres.required, TestPostgres.skipNote))
    func aStoreOfANewerSchemaIsRefusedAndAReadOnlyOpenWritesNothing() throws {
        let url = try TestPostgres.freshURL()
        let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let readOnly = #expect(throws: EngineError.self) { try PostgresStore(PostgresLocation(url: url), readOnly: true, logger: quiet) }
        #expect(readOnly?.message.contains("has no JobEngine tables yet") == true, "\(readOnly?.message ?? "")")
        let store = try PostgresStore(PostgresLocation(url: url), logger: quiet)
        try store.sessions.withSession { db in
            try db.execute("INSERT INTO schema_versions (version, file, applied_at) VALUES (99, 'future.sql', 0)")
        }
        store.close()
        let newer = #expect(throws: EngineError.self) { try PostgresStore(PostgresLocation(url: url), logger: quiet) }
        #expect(newer?.code == .storeNewerThanEngine)
    }
}
