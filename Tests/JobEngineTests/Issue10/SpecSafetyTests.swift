import Foundation
import JobEngineTestSupport
import Testing

@testable import JobEngine

/// Issue 10, findings 1–5: specs that pass validation must not destroy data.
@Suite(.limit(minutes: 1)) struct SpecSafetyTests {
    static func spec(name: String, items: [String], path: String = "out/{item}.jsonl", sink: String = "jsonl") -> JobSpec {
        var spec = makeSpec(name: name, items: items, documents: 20, pageSize: 10, batchSize: 10, sink: sink)
        if sink == "jsonl" { spec.ingester.options["path"] = .string(path) }
        return spec
    }

    static func problems(_ body: () async throws -> Void) async -> [String] {
        do {
            try await body()
            return []
        } catch let error as EngineError {
            return error.problems.map(\.description)
        } catch {
            return ["unexpected: \(error)"]
        }
    }

    @Test func finding1_aJobNeverWritesASinkFileAnotherJobOwns() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let alpha = try await engine.submit(Self.spec(name: "alpha", items: ["q1"]), baseDirectory: folder.url).job
        #expect(try await engine.run(jobID: alpha.id).allSucceeded)
        let before = try Data(contentsOf: URL(fileURLWithPath: folder.path("out/q1.jsonl")))
        let problems = await Self.problems { _ = try await engine.submit(Self.spec(name: "beta", items: ["q1", "q2"]), baseDirectory: folder.url) }
        #expect(problems.count == 1 && problems[0].contains("belongs to job alpha"), "\(problems)")
        #expect(try await engine.job("beta") == nil)  // nothing written
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder.path("out/q1.jsonl"))) == before)
        // The owner itself may submit again.
        _ = try await engine.submit(Self.spec(name: "alpha", items: ["q1"]), baseDirectory: folder.url)
        await engine.shutdown()
    }

    @Test func finding1_sqliteSinkRowsCarryTheirJobAndATableBelongsToOneJob() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let alpha = try await engine.submit(Self.spec(name: "alpha", items: ["q1"], sink: "sqlite"), baseDirectory: folder.url).job
        #expect(try await engine.run(jobID: alpha.id).allSucceeded)
        let jobs = try query(folder.path("sink.sqlite"), "SELECT DISTINCT job FROM documents").compactMap { $0.string("job") }
        #expect(jobs == ["alpha"])
        let problems = await Self.problems { _ = try await engine.submit(Self.spec(name: "gamma", items: ["q1"], sink: "sqlite"), baseDirectory: folder.url) }
        #expect(problems.first?.contains("table documents of") == true && problems.first?.contains("belongs to job alpha") == true, "\(problems)")
        #expect(try query(folder.path("sink.sqlite"), "SELECT COUNT(*) AS n FROM documents").first?.int("n") == 20)
        await engine.shutdown()
    }

    @Test func finding1_aTableAnEarlierEngineFilledIsNotTakenOver() async throws {
        let folder = try TemporaryDirectory()
        try query(folder.path("sink.sqlite"), "CREATE TABLE documents (item TEXT, seq INTEGER, key TEXT, data TEXT, PRIMARY KEY (item, seq))")
        try query(folder.path("sink.sqlite"), "INSERT INTO documents VALUES ('q1', 0, 'k', '{}')")
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let problems = await Self.problems { _ = try await engine.submit(Self.spec(name: "delta", items: ["q1"], sink: "sqlite"), baseDirectory: folder.url) }
        #expect(problems.first?.contains("exists and was not written by job delta") == true, "\(problems)")
        await engine.shutdown()
    }

    @Test func finding2_twoItemsOfAJobNeverShareAFile() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        try FileManager.default.createDirectory(atPath: folder.path("out/a"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: folder.path("out/b"), withDestinationPath: folder.path("out/a"))
        let shared = await Self.problems {
            _ = try await engine.submit(Self.spec(name: "linked", items: ["a", "b"], path: "out/{item}/data.jsonl"), baseDirectory: folder.url)
        }
        #expect(shared.count == 1 && shared[0].contains(#"items "a" and "b" both write"#), "\(shared)")
        // `x` and `./x` are two names, so two files: the name goes into the path as one component.
        let job = try await engine.submit(Self.spec(name: "dots", items: ["x", "./x"], path: "coll/{item}.jsonl"), baseDirectory: folder.url).job
        #expect(try await engine.run(jobID: job.id).allSucceeded)
        #expect(try jsonlSeqs(folder.path("coll/x.jsonl")) == Array(0..<20))
        #expect(try jsonlSeqs(folder.path("coll/.%2Fx.jsonl")) == Array(0..<20))
        await engine.shutdown()
    }

    @Test func finding3_aSinkMayNeverWriteTheStoreOrTheSpecFile() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        for item in ["engine.sqlite", "engine.sqlite-wal", "engine.sqlite-shm"] {
            let problems = await Self.problems { _ = try await engine.submit(Self.spec(name: "eat", items: [item], path: "{item}"), baseDirectory: folder.url) }
            #expect(problems.first?.contains("is the engine's store") == true, "\(item): \(problems)")
        }
        let owners = await Self.problems {
            _ = try await engine.submit(Self.spec(name: "eat", items: ["x"], path: "engine.sqlite.owners/{item}"), baseDirectory: folder.url)
        }
        #expect(owners.first?.contains("the engine's owners folder") == true, "\(owners)")
        var sqliteSpec = Self.spec(name: "eat", items: ["x"], sink: "sqlite")
        sqliteSpec.ingester.options["path"] = "engine.sqlite"
        let sqlite = await Self.problems { _ = try await engine.submit(sqliteSpec, baseDirectory: folder.url) }
        #expect(sqlite.first?.contains("is the engine's store") == true, "\(sqlite)")
        // The spec file itself.
        let specFile = folder.url.appendingPathComponent("spec.json")
        try Data(#"{"name": "self", "collector": {"type": "synthetic", "documents": 5}, "ingester": {"type": "jsonl", "path": "{item}"}, "items": [{"name": "spec.json"}]}"#.utf8).write(to: specFile)
        let selfProblems = await Self.problems { _ = try await engine.submit(specAt: specFile) }
        #expect(selfProblems.first?.contains("the spec file itself") == true, "\(selfProblems)")
        #expect(try await engine.jobs().isEmpty)
        #expect(try engine.sqliteStore.integrityCheck() == "ok")
        await engine.shutdown()
    }

    @Test func finding4_anItemNameCannotLeaveItsFolderAndAFirstRunTruncatesNothing() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let job = try await engine.submit(Self.spec(name: "escape", items: ["../../victim/pwn"]), baseDirectory: folder.url).job
        #expect(try await engine.run(jobID: job.id).allSucceeded)
        #expect(try jsonlSeqs(folder.path("out/..%2F..%2Fvictim%2Fpwn.jsonl")) == Array(0..<20))
        #expect(!FileManager.default.fileExists(atPath: folder.url.deletingLastPathComponent().appendingPathComponent("victim").path))
        // A file the engine did not write is never truncated: a spec error names it.
        try FileManager.default.createDirectory(atPath: folder.path("data"), withIntermediateDirectories: true)
        try Data("precious\n".utf8).write(to: URL(fileURLWithPath: folder.path("data/report.jsonl")))
        let problems = await Self.problems {
            _ = try await engine.submit(Self.spec(name: "reports", items: ["report"], path: "data/{item}.jsonl"), baseDirectory: folder.url)
        }
        #expect(problems.first?.contains("exists and was not written by job reports; remove it or choose another path") == true, "\(problems)")
        #expect(try String(contentsOfFile: folder.path("data/report.jsonl"), encoding: .utf8) == "precious\n")
        await engine.shutdown()
    }

    @Test func finding5_namesArePrintableAndDuplicateKeysAreRefused() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let nul = await Self.problems { _ = try await engine.submit(Self.spec(name: "good\u{0}evil", items: ["a"]), baseDirectory: folder.url) }
        #expect(nul == ["name: must be printable: it holds the control character U+0000"], "\(nul)")
        let escape = await Self.problems { _ = try await engine.submit(Self.spec(name: "ok", items: ["a\nb\u{1b}[31mred"]), baseDirectory: folder.url) }
        #expect(escape == ["items[0].name: must be printable: it holds the control character U+000A"], "\(escape)")
        let duplicate = #"{"name": "d", "collector": {"type": "synthetic", "documents": 5, "documents": 6}, "ingester": {"type": "jsonl", "path": "out/{item}.jsonl"}, "items": [{"name": "a", "name": "b"}]}"#
        let error = try #require(throws: EngineError.self) { try JobSpec(json: Data(duplicate.utf8)) }
        #expect(error.problems.map(\.field) == ["collector.documents", "items[0].name"], "\(error.problems)")
        #expect(error.problems.first?.message.contains("appears twice") == true)
        await engine.shutdown()
    }

    @Test func errorsAPersonCanRead_hugeNumbersAreTooLargeAndFileFailuresSayWhy() throws {
        let huge = #"{"name": "h", "concurrency": 9223372036854775807, "collector": {"type": "synthetic", "documents": 1e20}, "ingester": {"type": "jsonl", "path": "out/{item}.jsonl"}, "items": [{"name": "a"}]}"#
        let error = try #require(throws: EngineError.self) { try JobSpec(json: Data(huge.utf8)) }
        #expect(error.problems.map(\.description).contains("concurrency: is too large: must be <= 1024"), "\(error.problems)")
        #expect(!error.description.contains("fraction"))
        #expect(FileFailure.describe(POSIXError(.ENOSPC), doing: "write to", path: "/data/x.jsonl")
                == "cannot write to /data/x.jsonl: the disk is full; free space, then retry with recover")
        #expect(FileFailure.describe(CocoaError(.fileWriteNoPermission), doing: "create", path: "/x").contains("permission denied"))
        #expect(FileFailure.describe(POSIXError(.EISDIR), doing: "open", path: "/x").contains("it is a folder"))
    }
}
