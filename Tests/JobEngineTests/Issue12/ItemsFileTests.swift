import Foundation
import JobEngineTestSupport
import Testing

@testable import JobEngine

/// Issue 12: a spec's items streamed from a JSON Lines file, validated line by line, submitted in
/// bounded steps.
@Suite(.limit(minutes: 2)) struct ItemsFileTests {
    /// A spec file naming `items.jsonl`, written with `lines`.
    static func specFile(_ folder: TemporaryDirectory, lines: [String], faults: String = "") throws -> URL {
        try lines.joined(separator: "\n").write(toFile: folder.path("items.jsonl"), atomically: true, encoding: .utf8)
        let spec = """
            {"name": "crawl", "collector": {"type": "synthetic", "documents": 1, "page_size": 1},
             "ingester": {"type": "jsonl", "path": "out/{item}.jsonl"}, "items_file": "items.jsonl"\(faults)}
            """
        let url = folder.url.appendingPathComponent("spec.json")
        try spec.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test func itemsFromAFileArriveInOrderAndPagingReturnsEachOnce() async throws {
        let folder = try TemporaryDirectory()
        // More items than one submit step, with blank lines, which are skipped.
        var lines = (0..<5_003).map { #"{"name": "q\#($0)", "params": {"query": "term \#($0)"}}"# }
        lines.insert("", at: 100)
        lines.insert("   ", at: 2_500)
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let submitted = try await engine.submit(specAt: try Self.specFile(folder, lines: lines))
        #expect(submitted.created && submitted.addedCount == 5_003 && submitted.addedItems.count == 1_000)
        #expect(submitted.job.spec.itemsFile == "items.jsonl" && submitted.job.spec.items.isEmpty)
        let status = try #require(try await engine.jobStatus(submitted.job.id))
        #expect(status.itemCount == 5_003 && status.counts == [.pending: 5_003])

        var seen: [String] = []
        var after: Int?
        repeat {
            let page = try await engine.itemsPage(jobID: submitted.job.id, after: after, limit: 777)
            seen += page.items.map(\.name)
            after = page.nextAfter
        } while after != nil
        #expect(seen == (0..<5_003).map { "q\($0)" })
        let item = try #require(try await engine.itemsPage(jobID: submitted.job.id, limit: 1).items.first)
        #expect(item.parameters == ["query": "term 0"])
        #expect(try query(folder.storePath, "SELECT COUNT(*) AS n FROM submit_items").first?.int("n") == 0)
        engine.close()
    }

    @Test func everyBadLineIsReportedByNumberAndNothingIsWritten() async throws {
        let folder = try TemporaryDirectory()
        let lines = [
            #"{"name": "a"}"#,
            #"{"name": "b", "params": 3}"#,        // 2: params not an object
            #"not json"#,                           // 3
            #"["a"]"#,                              // 4: not an object
            #"{"params": {}}"#,                     // 5: no name
            #"{"name": "a"}"#,                      // 6: duplicate of line 1
            #"{"name": "c", "extra": 1}"#,          // 7: unknown key
            #"{"name": "d\u0007"}"#,                // 8: unprintable
            #"{"name": "e", "name": "f"}"#,         // 9: duplicate key
        ]
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let error = try await #require(throws: EngineError.self) {
            try await engine.submit(specAt: try Self.specFile(folder, lines: lines, faults: #", "faults": [{"item": "zz", "phase": "collect", "at_document": 0}]"#))
        }
        let fields = error.problems.map(\.field)
        #expect(error.code == .invalidSpec)
        for line in [2, 3, 4, 5, 6, 7, 8, 9] {
            #expect(fields.contains { $0.hasPrefix("items_file line \(line)") }, "line \(line) not reported: \(fields)")
        }
        #expect(error.problems.contains { $0.message.contains("duplicate item name \"a\" (also line 1)") })
        #expect(error.problems.contains { $0.field == "faults" && $0.message.contains("\"zz\"") })
        #expect(try await engine.jobs().isEmpty)
        #expect(try query(folder.storePath, "SELECT (SELECT COUNT(*) FROM jobs) + (SELECT COUNT(*) FROM work_items) + (SELECT COUNT(*) FROM submit_items) + (SELECT COUNT(*) FROM sink_targets) AS n").first?.int("n") == 0)
        engine.close()
    }

    @Test func problemsAreListedUpToAHundredThenCounted() async throws {
        let folder = try TemporaryDirectory()
        let lines = (0..<150).map { _ in "{" } + [#"{"name": "ok"}"#]
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let error = try await #require(throws: EngineError.self) {
            try await engine.submit(specAt: try Self.specFile(folder, lines: lines))
        }
        #expect(error.problems.count == 101)
        #expect(error.problems.last?.message.contains("50 more problems") == true)
        engine.close()
    }

    @Test func aMissingOrEmptyItemsFileIsRefusedByName() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let url = try Self.specFile(folder, lines: ["", " "])
        let empty = try await #require(throws: EngineError.self) { try await engine.submit(specAt: url) }
        #expect(empty.problems.first?.message.contains("holds no items") == true)
        try FileManager.default.removeItem(atPath: folder.path("items.jsonl"))
        let missing = try await #require(throws: EngineError.self) { try await engine.submit(specAt: url) }
        #expect(missing.problems.first?.field == "items_file")
        #expect(missing.problems.first?.message.contains("no such file") == true)
        let both = #"{"name": "x", "collector": {"type": "synthetic"}, "ingester": {"type": "jsonl", "path": "o/{item}"}, "items": [{"name": "a"}], "items_file": "i.jsonl"}"#
        let spec = try #require(throws: EngineError.self) { try JobSpec(json: Data(both.utf8)) }
        #expect(spec.problems.contains { $0.field == "items_file" && $0.message.contains("not both") })
        engine.close()
    }

    @Test func aResubmittedFileUpdatesChangedItemsAddsNewOnesAndKeepsTheRest() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let first = try await engine.submit(specAt: try Self.specFile(folder, lines: (0..<3).map { #"{"name": "q\#($0)"}"# }))
        _ = try await engine.run(jobID: first.job.id)
        // q1 changes its params, q2 is dropped, q3 is new.
        let again = try await engine.submit(specAt: try Self.specFile(folder, lines: [
            #"{"name": "q3"}"#, #"{"name": "q0"}"#, #"{"name": "q1", "params": {"x": 1}}"#,
        ]))
        #expect(!again.created && again.job.specVersion == 2)
        #expect(again.addedItems == ["q3"] && again.changedItems == ["q1"])
        let items = try await engine.items(jobID: first.job.id)
        // The listed items in the file's order, then the one the file no longer lists; positions unique.
        #expect(items.map(\.name) == ["q3", "q0", "q1", "q2"])
        #expect(Set(try query(folder.storePath, "SELECT position FROM work_items").map { $0.int("position") }).count == 4)
        engine.close()
    }
}
