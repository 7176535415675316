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

    /// Version 2 moved a job's counters out of its row into shards: a store made at version 1 keeps
    /// its jobs' standing through the upgrade, and counts made afterwards from several connections
    /// (several shards) still sum to what the items say.
    @Test(.enabled(if: TestPostgres.url != nil || TestPostgres.required, TestPostgres.skipNote))
    func aVersionOneStoreKeepsItsCountsThroughTheUpgradeAndShardedCountsSumUp() async throws {
        let url = try TestPostgres.freshURL()
        let location = try PostgresLocation(url: url)
        let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let job = UUID().uuidString.lowercased()
        let settings = String(decoding: try JobSpec(
            name: "old", collector: ComponentSpec(type: "synthetic", options: ["documents": 10]),
            ingester: ComponentSpec(type: "postgres", options: ["table": "docs"]), items: []).jsonValue.canonicalJSON(), as: UTF8.self)
        let old = PostgresSessions(location, logger: quiet)
        try await old.transaction { db in
            try db.execute("CREATE SCHEMA \(location.schema ?? "public")")
            try db.execute("CREATE TABLE schema_versions (version INTEGER PRIMARY KEY, file TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)")
            for statement in PostgresMigrations.statements(of: PostgresMigrations.all[0].sql) { try db.execute(statement) }
            try db.execute("INSERT INTO schema_versions VALUES (1, '001_init.sql', 0)")
            try db.execute("""
                INSERT INTO jobs (id, name, spec_json, settings_json, spec_version, base_directory, created_at, updated_at)
                VALUES ($1, 'old', $2, $2, 1, '/', 0, 0)
                """, [.text(job), .text(settings)])
            for (index, (status, collected, ingested)) in [("pending", 0, 0), ("succeeded", 10, 10), ("failed", 4, 0), ("failed", 2, 1)].enumerated() {
                try db.execute("""
                    INSERT INTO work_items (id, job_id, name, position, status, phase, params_json, params_fingerprint, collected,
                    ingested, collected_total, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'collect', '{}', 'f', $6, $7, $6, 0, 0)
                    """, [.text(UUID().uuidString.lowercased()), .text(job), .text("item-\(index)"), .integer(Int64(index)),
                          .text(status), .integer(Int64(collected)), .integer(Int64(ingested))])
            }
        }
        old.close()

        let store = try PostgresStore(location, logger: quiet)
        defer { store.close() }
        let jobID = try #require(UUID(uuidString: job))
        let upgraded = try #require(try await store.jobStatus(jobID))
        #expect(upgraded.counts == [.pending: 1, .succeeded: 1, .failed: 2])
        #expect(upgraded.collected == 16 && upgraded.ingested == 11 && upgraded.collectedTotal == 16)

        // Two connections (two server processes: each its shard, or one shared by chance) change items.
        try store.sessions.withSession { first in
            try store.sessions.withSession { second in
                try first.execute("UPDATE work_items SET status = 'running', collected = 3 WHERE name = 'item-0'")
                try second.execute("UPDATE work_items SET status = 'pending', collected = 0 WHERE status = 'failed'")
            }
        }
        let after = try #require(try await store.jobStatus(jobID))
        let truth = try store.sessions.withSession { db in
            try db.execute("""
                SELECT COUNT(*) FILTER (WHERE status = 'pending') AS pending, COUNT(*) FILTER (WHERE status = 'running') AS running,
                SUM(collected) AS collected FROM work_items
                """).first
        }
        #expect(after.counts == [.pending: truth?.int("pending") ?? -1, .running: truth?.int("running") ?? -1, .succeeded: 1])
        #expect(after.counts == [.pending: 2, .running: 1, .succeeded: 1])
        #expect(after.collected == truth?.int("collected") && after.collected == 13)
    }
}
