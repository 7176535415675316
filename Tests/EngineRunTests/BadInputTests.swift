import Foundation
import Testing

/// Invariant 6 at the command line: each bad input gets exit code 2, one precise message on
/// stderr, and leaves the store exactly as it was (or absent, when there was none).
@Suite struct BadInputTests {
    static let validSpec = """
        {"name": "ok", "items": [{"name": "a"}],
         "collector": {"type": "synthetic", "documents": 10, "page_size": 5},
         "ingester": {"type": "jsonl", "path": "out/{item}.jsonl"}}
        """

    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let arguments: [String]
        let expected: String
        /// Prepares the folder: spec files, stores.
        var setUp: @Sendable (Folder) async throws -> Void = { _ in }
        var store = "engine.sqlite"
        var testDescription: String { name }
    }

    static func spec(_ json: String) -> @Sendable (Folder) async throws -> Void {
        { folder in try folder.write("spec.json", json) }
    }

    static func withStore(_ then: @escaping @Sendable (Folder) async throws -> Void) -> @Sendable (Folder) async throws -> Void {
        { folder in
            try folder.write("spec.json", validSpec)
            let made = try await CLI.run(["status"], in: folder.url)
            try #require(made.code == 0, "could not create the store: \(made.stderr)")
            try await then(folder)
        }
    }

    static let cases: [Case] = [
        Case(name: "malformed JSON", arguments: ["run", "spec.json"], expected: "malformed JSON at line 3, column",
             setUp: spec("{\n \"name\": \"x\",\n \"items\": [}\n")),
        Case(name: "empty spec file", arguments: ["run", "spec.json"], expected: "the file is empty", setUp: spec("")),
        Case(name: "spec is not an object", arguments: ["run", "spec.json"], expected: "(root): must be a JSON object, got an array",
             setUp: spec("[]")),
        Case(name: "wrong type", arguments: ["run", "spec.json"], expected: "concurrency: must be a whole number, got a string",
             setUp: spec(validSpec.replacingOccurrences(of: "\"name\": \"ok\",", with: "\"name\": \"ok\", \"concurrency\": \"four\","))),
        Case(name: "unknown collector type", arguments: ["run", "spec.json"], expected: "collector.type: unknown type \"ftp\"",
             setUp: spec(validSpec.replacingOccurrences(of: "\"synthetic\"", with: "\"ftp\""))),
        Case(name: "unknown key", arguments: ["run", "spec.json"], expected: "colour: unknown key",
             setUp: spec(validSpec.replacingOccurrences(of: "\"name\": \"ok\",", with: "\"name\": \"ok\", \"colour\": 1,"))),
        Case(name: "missing items", arguments: ["run", "spec.json"], expected: "items: missing",
             setUp: spec(validSpec.replacingOccurrences(of: "\"items\": [{\"name\": \"a\"}],", with: ""))),
        Case(name: "item without name", arguments: ["run", "spec.json"], expected: "items[0].name: missing",
             setUp: spec(validSpec.replacingOccurrences(of: "{\"name\": \"a\"}", with: "{\"params\": {}}"))),
        Case(name: "duplicate item names", arguments: ["run", "spec.json"], expected: "items[1].name: duplicate item name \"a\"",
             setUp: spec(validSpec.replacingOccurrences(of: "{\"name\": \"a\"}", with: "{\"name\": \"a\"}, {\"name\": \"a\"}"))),
        Case(name: "page size zero", arguments: ["run", "spec.json"], expected: "collector.page_size: must be > 0",
             setUp: spec(validSpec.replacingOccurrences(of: "\"page_size\": 5", with: "\"page_size\": 0"))),
        Case(name: "max attempts zero", arguments: ["run", "spec.json"], expected: "retry.max_attempts: must be > 0",
             setUp: spec(validSpec.replacingOccurrences(of: "\"name\": \"ok\",", with: "\"name\": \"ok\", \"retry\": {\"max_attempts\": 0},"))),
        Case(name: "bad retry mode", arguments: ["run", "spec.json"], expected: "retry.mode: must be one of \"restart\", \"recover\"",
             setUp: spec(validSpec.replacingOccurrences(of: "\"name\": \"ok\",", with: "\"name\": \"ok\", \"retry\": {\"mode\": \"again\"},"))),
        Case(name: "fault for an unknown item", arguments: ["run", "spec.json"], expected: "faults[0].item: no item is named \"zz\"",
             setUp: spec(validSpec.replacingOccurrences(of: "\"name\": \"ok\",", with: "\"name\": \"ok\", \"faults\": [{\"item\": \"zz\", \"phase\": \"ingest\", \"at_document\": 1}],"))),
        Case(name: "missing spec file", arguments: ["run", "nope.json"], expected: "cannot read the job spec"),
        Case(name: "missing source file", arguments: ["run", "spec.json"], expected: "collector.path: cannot read",
             setUp: spec(validSpec.replacingOccurrences(of: "{\"type\": \"synthetic\", \"documents\": 10, \"page_size\": 5}",
                                                        with: "{\"type\": \"jsonl\", \"path\": \"in/{item}.jsonl\"}"))),
        Case(name: "unwritable sink folder", arguments: ["run", "spec.json"], expected: "ingester.path: cannot write to",
             setUp: { folder in
                 try folder.write("out", "a file where the sink folder should be")
                 try folder.write("spec.json", validSpec)
             }),
        Case(name: "sink path without {item}", arguments: ["run", "spec.json"], expected: "ingester.path: must contain {item}",
             setUp: spec(validSpec.replacingOccurrences(of: "out/{item}.jsonl", with: "out/all.jsonl"))),
        Case(name: "bad sqlite table name", arguments: ["run", "spec.json"], expected: "ingester.table: must be a plain table name",
             setUp: spec(validSpec.replacingOccurrences(of: "{\"type\": \"jsonl\", \"path\": \"out/{item}.jsonl\"}",
                                                        with: "{\"type\": \"sqlite\", \"path\": \"sink.db\", \"table\": \"x; DROP\"}"))),
        Case(name: "retry with a bad --type", arguments: ["retry", "--type", "bogus", "3f2b6c1e-8a4d-4e7f-9b0a-1c2d3e4f5a6b"],
             expected: "The value 'bogus' is invalid for '--type"),
        Case(name: "retry with a malformed id", arguments: ["retry", "--type", "recover", "item-7"],
             expected: "'item-7' is not a work item id"),
        Case(name: "retry without ids", arguments: ["retry", "--type", "recover"], expected: "give work item ids, or --failed"),
        Case(name: "retry --job without --failed", arguments: ["retry", "--type", "recover", "--job", "x", "3f2b6c1e-8a4d-4e7f-9b0a-1c2d3e4f5a6b"],
             expected: "--job goes with --failed"),
        Case(name: "retry --error-kind without --failed", arguments: ["retry", "--type", "recover", "--error-kind", "transient",
                                                                        "3f2b6c1e-8a4d-4e7f-9b0a-1c2d3e4f5a6b"],
             expected: "--error-kind goes with --failed"),
        Case(name: "retry with an unknown --error-kind", arguments: ["retry", "--type", "recover", "--failed", "--error-kind", "flaky"],
             expected: "The value 'flaky' is invalid for '--error-kind"),
        Case(name: "retry with --phase done", arguments: ["retry", "--type", "recover", "--failed", "--phase", "done"],
             expected: "--phase done is not a phase an item stops in: give collect or ingest"),
        Case(name: "retry with a --failed-since that is no time", arguments: ["retry", "--type", "recover", "--failed", "--failed-since", "yesterday"],
             expected: "--failed-since yesterday is not a time: give an ISO 8601 time like 2026-12-01T10:00Z"),
        Case(name: "retry --error-kind with only --cancelled", arguments: ["retry", "--type", "recover", "--cancelled", "--error-kind", "transient"],
             expected: "--error-kind goes with --failed: cancelled items have no error kind"),
        Case(name: "history with a malformed id", arguments: ["history", "17"], expected: "'17' is not a work item id"),
        Case(name: "history of an unknown item", arguments: ["history", "3f2b6c1e-8a4d-4e7f-9b0a-1c2d3e4f5a6b"],
             expected: "no work item has the id", setUp: withStore { _ in }),
        Case(name: "cancel an unknown job", arguments: ["cancel", "nightly"], expected: "no job is named or has the id \"nightly\"",
             setUp: withStore { _ in }),
        Case(name: "items with a bad status", arguments: ["items", "--status", "done"], expected: "The value 'done' is invalid for '--status"),
        Case(name: "unknown command", arguments: ["launch"], expected: "Unexpected argument 'launch'"),
        Case(name: "run without a spec", arguments: ["run"], expected: "Missing expected argument"),
        Case(name: "store that is not SQLite", arguments: ["run", "spec.json"], expected: "is not a JobEngine store: it is not an SQLite database",
             setUp: { folder in
                 try folder.write("spec.json", validSpec)
                 try folder.write("engine.sqlite", String(repeating: "this is a text file\n", count: 300))
             }),
        Case(name: "another application's database", arguments: ["status"], expected: "is an SQLite database but not a JobEngine store",
             setUp: { folder in _ = try sqlite(folder.path("engine.sqlite"), "CREATE TABLE customers (id INTEGER)") }),
        Case(name: "store from a newer engine", arguments: ["run", "spec.json"], expected: "has schema version 42, newer than this engine",
             setUp: withStore { folder in
                 _ = try sqlite(folder.path("engine.sqlite"), "INSERT INTO schema_versions (version, applied_at) VALUES (42, 0)")
             }),
        Case(name: "read-only store", arguments: ["run", "spec.json"], expected: "is read-only",
             setUp: withStore { folder in
                 try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: folder.path("engine.sqlite"))
             }),
        Case(name: "prune with a bad age", arguments: ["prune", "--older-than", "soon"], expected: "--older-than soon is not an age"),
        Case(name: "a PostgreSQL URL without a database", arguments: ["status", "--db", "postgres://me@127.0.0.1:1/"],
             expected: "names no database"),
        Case(name: "a PostgreSQL server that cannot be reached", arguments: ["status", "--db", "postgres://me:secret@127.0.0.1:1/jobs"],
             expected: "cannot connect to the PostgreSQL store postgres://me@127.0.0.1:1/jobs"),
        Case(name: "a jsonl sink on a PostgreSQL store", arguments: ["run", "spec.json", "--db", "postgres://me@127.0.0.1:1/jobs"],
             expected: "ingester.type: a jsonl sink cannot be used with a PostgreSQL store", setUp: spec(validSpec)),
        Case(name: "store in a missing folder", arguments: ["run", "spec.json", "--db", "no/such/folder/engine.sqlite"],
             expected: "no/such/folder does not exist", setUp: spec(validSpec), store: "no/such/folder/engine.sqlite"),
    ]

    @Test(arguments: cases)
    func badInputIsRefusedWithAPreciseMessageAndChangesNothing(_ testCase: Case) async throws {
        let folder = try Folder()
        try await testCase.setUp(folder)
        let before = folder.contents(testCase.store)
        let output = try await CLI.run(testCase.arguments, in: folder.url)
        #expect(output.code == 2, "exit code; stderr: \(output.stderr)")
        #expect(output.stderr.contains(testCase.expected), "stderr was: \(output.stderr)")
        #expect(output.stdout.isEmpty, "stdout was: \(output.stdout)")
        #expect(folder.contents(testCase.store) == before, "the store changed")
        #expect(!FileManager.default.fileExists(atPath: folder.path("out/a.jsonl")))
    }

    @Test func aLockedStoreIsReportedAndLeftAsItWas() async throws {
        let folder = try Folder()
        try folder.write("spec.json", Self.validSpec)
        #expect(try await CLI.run(["status"], in: folder.url).code == 0)
        let before = folder.contents("engine.sqlite")
        // Another process holds the write lock for the whole run.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = ["python3", "-c", """
            import sqlite3, sys, time
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            c.execute("BEGIN IMMEDIATE")
            print("locked", flush=True)
            sys.stdin.read()
            """, folder.path("engine.sqlite")]
        let pipe = Pipe()
        let release = Pipe()
        holder.standardOutput = pipe
        holder.standardInput = release
        try holder.run()
        defer { try? release.fileHandleForWriting.close() }
        let line = String(decoding: pipe.fileHandleForReading.availableData, as: UTF8.self)
        try #require(line.contains("locked"))

        let output = try await CLI.run(["run", "spec.json"], in: folder.url)
        #expect(output.code == 2)
        #expect(output.stderr.contains("the store is locked by another process"), "stderr was: \(output.stderr)")
        try release.fileHandleForWriting.close()  // the holder reads end-of-input and exits
        holder.waitUntilExit()
        #expect(folder.contents("engine.sqlite") == before)
        #expect(try sqlite(folder.path("engine.sqlite"), "SELECT COUNT(*) AS n FROM jobs").first?["n"] == "0")
    }
}
