import Foundation
import Testing

@testable import JobEngine

/// Invariant 6: a malformed spec names every field and problem, and nothing is written.
@Suite struct SpecTests {
    private func problems(_ json: String, folder: TemporaryDirectory? = nil) async throws -> [String] {
        let folder = try folder ?? TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        defer { engine.close() }
        let url = folder.url.appendingPathComponent("spec.json")
        try Data(json.utf8).write(to: url)
        let error = try await #require(throws: EngineError.self) { try await engine.submit(specAt: url) }
        #expect(error.code == .invalidSpec)
        // Nothing was written.
        #expect(try await engine.jobs().isEmpty)
        #expect(try query(folder.storePath, "SELECT COUNT(*) AS n FROM work_items").first?.int("n") == 0)
        #expect(try query(folder.storePath, "SELECT COUNT(*) AS n FROM events").first?.int("n") == 0)
        return error.problems.map(\.description)
    }

    private let valid = """
        "collector": {"type": "synthetic", "documents": 10}, "ingester": {"type": "jsonl", "path": "out/{item}.jsonl"}
        """

    @Test func everyProblemIsListedByFieldPath() async throws {
        let found = try await problems("""
            {"concurrency": 0, "retry": {"mode": "resume", "max_atempts": 2},
             "collector": {"type": "synthetic", "documents": -1, "page_size": 0, "colour": "red"},
             "ingester": {"type": "ftp", "path": "x"},
             "items": [{"name": "a"}, {"params": {}}, {"name": "a"}, 7],
             "faults": [{"item": "zz", "phase": "done", "at_document": 1.5}],
             "extra": true}
            """)
        #expect(found == [
            "name: missing",
            "concurrency: must be > 0",
            "retry.mode: must be one of \"restart\", \"recover\", got \"resume\"",
            "retry.max_atempts: unknown key (known keys: backoff_ms, max_attempts, max_recoveries, mode)",
            "items[1].name: missing",
            "items[3]: must be an object, got a number",
            "faults[0].phase: must be \"collect\" or \"ingest\"",
            "faults[0].at_document: must be a whole number, got a fraction",
            "extra: unknown key (known keys: checkpoint, collector, concurrency, faults, ingester, items, items_file, name, retry)",
        ])
    }

    @Test func semanticAndComponentProblemsAreListedTogether() async throws {
        let found = try await problems("""
            {"name": "j",
             "collector": {"type": "synthetic", "documents": -1, "page_size": 0, "colour": "red"},
             "ingester": {"type": "ftp", "path": "x"},
             "items": [{"name": "a"}, {"name": "a"}],
             "faults": [{"item": "zz", "phase": "ingest", "at_document": 3}]}
            """)
        #expect(found == [
            "items[1].name: duplicate item name \"a\" (also items[0])",
            "faults[0].item: no item is named \"zz\"",
            "collector.documents: must be >= 0",
            "collector.page_size: must be > 0",
            "collector.colour: unknown key (known keys: document_bytes, documents, latency_ms, page_size)",
            "ingester.type: unknown type \"ftp\" (known: jsonl, sqlite)",
        ])
    }

    @Test func malformedJSONSaysWhereWithLineAndColumn() async throws {
        let found = try await problems("{\n  \"name\": \"j\",\n  \"items\": [\n}\n")
        #expect(found.count == 1)
        #expect(found[0].hasPrefix("(root): malformed JSON"))
        #expect(found[0].contains("line 4"), "\(found[0])")
    }

    @Test func wrongTypesAndEmptyFilesAreNamed() async throws {
        #expect(try await problems("") == ["(root): the file is empty; expected a JSON object"])
        #expect(try await problems("[1, 2]") == ["(root): must be a JSON object, got an array"])
        let found = try await problems("""
            {"name": 5, "concurrency": "four", "items": {"name": "a"}, "collector": "synthetic", \(valid.replacingOccurrences(of: "\"collector\": {\"type\": \"synthetic\", \"documents\": 10}, ", with: ""))}
            """)
        #expect(found == [
            "name: must be a string, got a number",
            "concurrency: must be a whole number, got a string",
            "collector: must be an object, got a string",
            "items: must be an array, got an object",
        ])
    }

    @Test func sinkAndSourcePathsAreCheckedBeforeAnythingRuns() async throws {
        let folder = try TemporaryDirectory()
        let readOnly = folder.url.appendingPathComponent("locked")
        try FileManager.default.createDirectory(at: readOnly, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o500], ofItemAtPath: readOnly.path)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: readOnly.path) }
        let found = try await problems("""
            {"name": "j", "items": [{"name": "a"}],
             "collector": {"type": "jsonl", "path": "in/{item}.jsonl"},
             "ingester": {"type": "jsonl", "path": "out.jsonl"}}
            """, folder: folder)
        #expect(found == [
            "collector.path: cannot read \(folder.url.appendingPathComponent("in/a.jsonl").path) (no such file, or not readable)",
            "ingester.path: must contain {item} so each work item has a file of its own, e.g. \"out/{item}.jsonl\"",
        ])
        // Root ignores permission bits, so only check the unwritable folder where they apply.
        if getuid() != 0 {
            let unwritable = try await problems("""
                {"name": "j", "items": [{"name": "a"}], "collector": {"type": "synthetic", "documents": 1},
                 "ingester": {"type": "sqlite", "path": "locked/sink.sqlite", "table": "1bad"}}
                """, folder: folder)
            #expect(unwritable == ["ingester.path: cannot write to \(readOnly.path) (not a writable folder)",
                                   "ingester.table: must be a plain table name (letters, digits, _; not starting with a digit)"])
        } else {
            let badTable = try await problems("""
                {"name": "j", "items": [{"name": "a"}], "collector": {"type": "synthetic", "documents": 1},
                 "ingester": {"type": "sqlite", "path": "sink.sqlite", "table": "1bad"}}
                """, folder: folder)
            #expect(badTable == ["ingester.table: must be a plain table name (letters, digits, _; not starting with a digit)"])
        }
    }

    @Test func aMissingSpecFileIsAClearError() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let error = try await #require(throws: EngineError.self) {
            try await engine.submit(specAt: folder.url.appendingPathComponent("nope.json"))
        }
        #expect(error.code == .invalidSpec && error.message.contains("nope.json"))
        engine.close()
    }

    @Test func specsRoundTripThroughTheirJSON() throws {
        let spec = makeSpec(items: ["a", "b"], maxAttempts: 3, faults: [FaultSpec(item: "a", phase: .ingest, atDocument: 4)])
        let data = spec.jsonValue.canonicalJSON()
        #expect(try JobSpec(json: data) == spec)
    }

    @Test func theFingerprintIgnoresOperationalSettingsOnly() {
        let base = makeSpec()
        let item = base.items[0]
        let fingerprint = ParameterFingerprint.of(spec: base, item: item, baseDirectory: "/x")
        var operational = base
        operational.concurrency = 9
        operational.retry = RetrySpec(maxAttempts: 5, mode: .restart, backoffMilliseconds: 1)
        operational.checkpoint.sync = .full
        operational.faults = [FaultSpec(item: "q1", phase: .collect, atDocument: 1)]
        #expect(ParameterFingerprint.of(spec: operational, item: item, baseDirectory: "/x") == fingerprint)
        var data = base
        data.ingester.options["path"] = "elsewhere/{item}.jsonl"
        #expect(ParameterFingerprint.of(spec: data, item: item, baseDirectory: "/x") != fingerprint)
        #expect(ParameterFingerprint.of(spec: base, item: ItemSpec(name: "q1", params: ["q": "x"]), baseDirectory: "/x") != fingerprint)
        #expect(ParameterFingerprint.of(spec: base, item: item, baseDirectory: "/y") != fingerprint)
    }
}
