import Foundation
import JobEngineTestSupport
import Testing

/// The command-line contract as an operator meets it.
@Suite struct EndToEndTests {
    static let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Examples/news.json")

    @Test(arguments: ["recover", "restart"])
    func theQuickstartFailsOneItemAndRetryFixesIt(mode: String) async throws {
        let folder = try Folder()
        try FileManager.default.copyItem(at: Self.example, to: folder.url.appendingPathComponent("news.json"))
        let run = try await CLI.run(["run", "news.json"], in: folder.url)
        #expect(run.code == 1)
        let failed = try #require(try await itemsJSON(folder).first { $0["name"] as? String == "q2" })
        let id = try #require(failed["id"] as? String)
        #expect(failed["status"] as? String == "failed" && failed["error"] as? String == "sink timed out")
        #expect(failed["error_kind"] as? String == "transient" && failed["phase"] as? String == "ingest")
        #expect(run.stdout.contains("engine-run retry --type recover \(id)"), "\(run.stdout)")
        #expect(run.stdout.contains("1 succeeded, 1 failed"))

        let retry = try await CLI.run(["retry", "--type", mode, id], in: folder.url)
        #expect(retry.code == 0, "\(retry.stderr)")
        #expect(retry.stdout.split(separator: "\n").first == #"{"total": 1}"#)
        let item = try #require(try await itemsJSON(folder).first { $0["id"] as? String == id })
        #expect(item["status"] as? String == "succeeded")
        #expect(item["attempt"] as? Int == 2)
        // recover delivered the rest without collecting again; restart collected all 1000 again.
        #expect(item["collected_total"] as? Int == (mode == "recover" ? 1000 : 2000))
        #expect(try jsonlSeqs(folder.path("out/q2.jsonl")) == Array(0..<1000))

        let history = try await CLI.run(["history", id], in: folder.url)
        #expect(history.code == 0)
        #expect(history.stdout.contains("running -> failed  transient: sink timed out"))
        #expect(history.stdout.contains("failed -> pending  [\(mode)]"))
    }

    @Test func itemsJSONHasTheDocumentedFields() async throws {
        let folder = try Folder()
        try FileManager.default.copyItem(at: Self.example, to: folder.url.appendingPathComponent("news.json"))
        _ = try await CLI.run(["run", "news.json", "--quiet"], in: folder.url)
        let items = try await itemsJSON(folder)
        for item in items {
            for key in ["id", "job", "name", "status", "phase", "attempt", "collected", "ingested", "collected_total", "error", "error_kind"] {
                #expect(item.keys.contains(key), "missing \(key)")
            }
            #expect(UUID(uuidString: item["id"] as? String ?? "") != nil)
            #expect(item["job"] as? String == "news-2026-11")
        }
        let failedOnly = try await CLI.run(["items", "--status", "failed", "--job", "news-2026-11", "--json"], in: folder.url)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(failedOnly.stdout.utf8)) as? [[String: Any]])
        #expect(parsed.map { $0["name"] as? String } == ["q2"])

        let status = try await CLI.run(["status", "--json"], in: folder.url)
        let jobs = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [[String: Any]])
        #expect(jobs.count == 1)
        #expect(jobs[0]["state"] as? String == "needs attention")
        #expect((jobs[0]["items"] as? [String: Int]) == ["pending": 0, "running": 0, "succeeded": 1, "failed": 1, "cancelled": 0])
        #expect(jobs[0]["collected"] as? Int == 2000 && jobs[0]["ingested"] as? Int == 1600)
        #expect(jobs[0]["seconds_since_progress"] is Double)
    }

    @Test func theStoreComesFromDbThenEngineDbThenTheDefault() async throws {
        let folder = try Folder()
        // A spec copy per store: a sink file belongs to the job of one store (invariant 7).
        for copy in ["flag", "env", "default", "other"] {
            try FileManager.default.createDirectory(at: folder.url.appendingPathComponent(copy), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: Self.example, to: folder.url.appendingPathComponent("\(copy)/news.json"))
        }
        _ = try await CLI.run(["run", "flag/news.json", "--quiet", "--db", "flag.sqlite"], in: folder.url)
        _ = try await CLI.run(["run", "env/news.json", "--quiet"], in: folder.url, environment: ["ENGINE_DB": "env.sqlite"])
        let run = try await CLI.run(["run", "default/news.json", "--quiet"], in: folder.url)
        for name in ["flag.sqlite", "env.sqlite", "engine.sqlite"] {
            #expect(FileManager.default.fileExists(atPath: folder.path(name)), "\(name)")
        }
        // The printed retry command names the store when it is not the default.
        let flagged = try await CLI.run(["run", "other/news.json", "--quiet", "--db", "other dir.sqlite"], in: folder.url)
        #expect(flagged.stdout.contains("engine-run retry --db 'other dir.sqlite' --type recover"))
        #expect(run.stdout.contains("engine-run retry --type recover"))
    }

    @Test func runningASpecAgainstContinuesUnchangedItemsAndRestartsChangedOnes() async throws {
        let folder = try Folder()
        let spec = """
            {"name": "rerun", "collector": {"type": "synthetic", "documents": 300, "page_size": 50, "document_bytes": 100},
             "ingester": {"type": "jsonl", "path": "out/{item}.jsonl"},
             "items": [{"name": "same"}, {"name": "changed", "params": {"v": 1}}],
             "faults": [{"item": "same", "phase": "ingest", "at_document": 150},
                        {"item": "changed", "phase": "ingest", "at_document": 150}]}
            """
        try folder.write("spec.json", spec)
        #expect(try await CLI.run(["run", "spec.json", "--quiet"], in: folder.url).code == 1)
        try folder.write("spec.json", spec.replacingOccurrences(of: #"{"v": 1}"#, with: #"{"v": 2}"#)
            .replacingOccurrences(of: #"{"name": "rerun","#, with: #"{"name": "rerun", "concurrency": 1,"#))
        let again = try await CLI.run(["run", "spec.json", "--quiet"], in: folder.url)
        #expect(again.code == 0, "\(again.stdout)\(again.stderr)")
        #expect(again.stdout.contains("recorded spec version 2"))
        #expect(again.stdout.contains("same: continuing with recover"))
        #expect(again.stdout.contains("changed: parameters changed; restarting from scratch"))
        let items = try await itemsJSON(folder)
        #expect(items.first { $0["name"] as? String == "same" }?["collected_total"] as? Int == 300)
        #expect(items.first { $0["name"] as? String == "changed" }?["collected_total"] as? Int == 600)
        #expect(items.first { $0["name"] as? String == "changed" }?["params"] as? [String: Int] == ["v": 2])
    }

    @Test func enqueueOnlyMarksAndResumeRunsThem() async throws {
        let folder = try Folder()
        try FileManager.default.copyItem(at: Self.example, to: folder.url.appendingPathComponent("news.json"))
        _ = try await CLI.run(["run", "news.json", "--quiet"], in: folder.url)
        let enqueued = try await CLI.run(["retry", "--type", "recover", "--failed", "--job", "news-2026-11", "--enqueue"], in: folder.url)
        #expect(enqueued.code == 0)
        #expect(enqueued.stdout == "{\"total\": 1}\n")
        #expect(try await itemsJSON(folder).first { $0["name"] as? String == "q2" }?["status"] as? String == "pending")
        let resumed = try await CLI.run(["resume", "--quiet"], in: folder.url)
        #expect(resumed.code == 0)
        #expect(try await itemsJSON(folder).allSatisfy { $0["status"] as? String == "succeeded" })
    }

    @Test func retrySkipsIneligibleIdsWithReasonsAndDryRunChangesNothing() async throws {
        let folder = try Folder()
        try FileManager.default.copyItem(at: Self.example, to: folder.url.appendingPathComponent("news.json"))
        _ = try await CLI.run(["run", "news.json", "--quiet"], in: folder.url)
        let items = try await itemsJSON(folder)
        let ok = try #require(items.first { $0["name"] as? String == "q1" }?["id"] as? String)
        let bad = try #require(items.first { $0["name"] as? String == "q2" }?["id"] as? String)
        let unknown = "3f2b6c1e-8a4d-4e7f-9b0a-1c2d3e4f5a6b"

        let before = folder.contents("engine.sqlite")
        let dry = try await CLI.run(["retry", "--type", "recover", "--dry-run", ok, bad, unknown], in: folder.url)
        #expect(dry.code == 0)
        #expect(dry.stdout.contains(#"{"total": 1, "dry_run": true}"#))
        #expect(dry.stdout.contains("would recover \(bad) (news-2026-11/q2): resumes in ingest after 600 of 1000 documents delivered"))
        #expect(dry.stdout.contains("would skip \(ok): not failed or cancelled (status: succeeded)"))
        #expect(dry.stdout.contains("would skip \(unknown): unknown work item"))
        #expect(folder.contents("engine.sqlite") == before)

        let none = try await CLI.run(["retry", "--type", "restart", ok, unknown], in: folder.url)
        #expect(none.code == 0)
        #expect(none.stdout.hasPrefix(#"{"total": 0}"#))
        #expect(none.stderr.contains("skipped \(ok): not failed or cancelled (status: succeeded)"))
        #expect(none.stderr.contains("skipped \(unknown): unknown work item"))
    }

    @Test func cancelStopsAnotherProcessesRunAtItsNextCheckpoint() async throws {
        let folder = try Folder()
        try folder.write("spec.json", """
            {"name": "long", "concurrency": 2,
             "collector": {"type": "synthetic", "documents": 5000, "page_size": 20, "latency_ms": 60},
             "ingester": {"type": "jsonl", "path": "out/{item}.jsonl"},
             "items": [{"name": "a"}, {"name": "b"}, {"name": "c"}, {"name": "d"}]}
            """)
        let run = try CLI.start(["run", "spec.json", "--quiet"], in: folder.url)
        let deadline = Date().addingTimeInterval(TestTime.scaled(30))
        while CrashTests.progress(folder) < 100 && Date() < deadline { try? await Task.sleep(for: .seconds(0.005)) }
        let cancel = try await CLI.run(["cancel", "long"], in: folder.url)
        #expect(cancel.code == 0)
        #expect(cancel.stdout.contains("2 pending item(s) cancelled"), "\(cancel.stdout)")
        #expect(await run.wait(seconds: 5))
        #expect(run.output().code == 1)
        let items = try await itemsJSON(folder)
        #expect(items.allSatisfy { $0["status"] as? String == "cancelled" }, "\(items.map { $0["status"] ?? "" })")
        let status = try await CLI.run(["status", "--json"], in: folder.url)
        #expect(status.stdout.contains(#""state":"cancelled""#))
        // Cancelled items keep their checkpoints: recover continues them.
        let ids = items.compactMap { $0["id"] as? String }
        let retried = try await CLI.run(["retry", "--type", "recover", "--quiet"] + ids, in: folder.url)
        #expect(retried.code == 0)
        #expect(try await itemsJSON(folder).allSatisfy { $0["collected_total"] as? Int == 5000 })
    }

    @Test func statsJSONIsOneLineOnStdout() async throws {
        let folder = try Folder()
        try FileManager.default.copyItem(at: Self.example, to: folder.url.appendingPathComponent("news.json"))
        let output = try await CLI.run(["run", "news.json", "--quiet", "--stats-json"], in: folder.url)
        #expect(output.code == 1)  // the example's fault still fails q2
        let lines = output.stdout.split(separator: "\n")
        #expect(lines.count == 1, "\(output.stdout)")
        let stats = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(stats["job"] as? String == "news-2026-11")
        #expect(stats["documents_collected"] as? Int == 2000)
        #expect(stats["documents_ingested"] as? Int == 1600)
        #expect(stats["succeeded"] as? Int == 1 && stats["failed"] as? Int == 1)
        #expect((stats["checkpoint_commits"] as? Int ?? 0) > 0)
        #expect((stats["checkpoints"] as? Int ?? 0) >= (stats["checkpoint_commits"] as? Int ?? 0))
        #expect((stats["bytes_written"] as? Int ?? 0) > 1_600 * 512)
        #expect((stats["peak_memory_bytes"] as? Int ?? 0) > 1_000_000)
        #expect(stats["wall_seconds"] is Double || stats["wall_seconds"] is Int)
        #expect(output.stderr.contains("1 succeeded, 1 failed"))
    }

    @Test func progressLinesArePrintedWhenStdoutIsNotATerminal() async throws {
        let folder = try Folder()
        try folder.write("spec.json", """
            {"name": "p", "collector": {"type": "synthetic", "documents": 400, "page_size": 20, "latency_ms": 10},
             "ingester": {"type": "jsonl", "path": "out/{item}.jsonl"}, "items": [{"name": "a"}, {"name": "b"}]}
            """)
        let output = try await CLI.run(["run", "spec.json"], in: folder.url, environment: ["ENGINE_PROGRESS_SECONDS": "0.1"])
        #expect(output.code == 0)
        #expect(output.stderr.contains("items 0/2 done, 0 failed"), "\(output.stderr)")
        #expect(output.stderr.contains("documents/s"))
        let quiet = try await CLI.run(["run", "spec.json", "--quiet"], in: folder.url, environment: ["ENGINE_PROGRESS_SECONDS": "0.1"])
        #expect(quiet.stderr.isEmpty)
    }
}
