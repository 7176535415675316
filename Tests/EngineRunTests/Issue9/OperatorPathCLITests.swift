import Foundation
import Testing

/// Issue 9 with real processes: a full disk under the store, another OS user, a stored spec that
/// cannot be read, a collector that never returns, two runs on one job, a busy-polling serve.
@Suite(.serialized) struct OperatorPathCLITests {
    static func spec(name: String = "ops", items: [String], documents: Int, documentBytes: Int = 64, latency: Int = 0,
                     concurrency: Int = 2, sink: String = "jsonl", extra: String = "") -> String {
        let ingester = sink == "sqlite"
            ? #"{"type": "sqlite", "path": "sink.sqlite", "table": "documents", "batch_size": 20}"#
            : #"{"type": "jsonl", "path": "out/{item}.jsonl", "batch_size": 20}"#
        return """
            {"name": "\(name)", "concurrency": \(concurrency),
             "collector": {"type": "synthetic", "documents": \(documents), "page_size": 20, "document_bytes": \(documentBytes),
                           "latency_ms": \(latency)},
             "ingester": \(ingester),
             "items": [\(items.map { "{\"name\": \"\($0)\"}" }.joined(separator: ", "))]\(extra)}
            """
    }

    @Test func finding1_aRunOutlastsAnotherProcessHoldingTheWriteLockPastTheBusyTimeout() async throws {
        let folder = try Folder()
        // Each item takes 250 pages × 100 ms: long enough that the lock lands mid-run even when
        // starting the holder is slow (every suite at once, under ThreadSanitizer or beside the
        // connector tests' servers and programs: at 40 ms the run once finished first).
        try folder.write("spec.json", Self.spec(items: ["a", "b"], documents: 5_000, latency: 100))
        let run = try CLI.start(["run", "spec.json", "--quiet"], in: folder.url)
        let store = folder.path("engine.sqlite")
        #expect(await waitFor { (Int((try? sqlite(store, "SELECT SUM(collected) AS n FROM work_items").first?["n"]) ?? "0") ?? 0) > 0 })
        // Held for 7 s, past SQLite's 5 s busy timeout: today's engine failed items with "database is
        // locked" and could hang for good.
        let holder = try await system(["python3", "-c", """
            import sqlite3, time
            db = sqlite3.connect("\(store)", timeout=30, isolation_level=None)
            db.execute("BEGIN IMMEDIATE"); time.sleep(7); db.execute("COMMIT")
            """])
        #expect(holder.code == 0, "\(holder.output)")
        // The lock landed mid-run: nothing could be written while it was held.
        let progress = Int((try sqlite(store, "SELECT SUM(collected) + SUM(ingested) AS p FROM work_items").first?["p"]) ?? "0") ?? 0
        #expect(progress < 2 * 2 * 5_000, "the run had finished before the lock was taken")
        #expect(await run.wait(seconds: 90), "the run did not end after the lock was released")
        #expect(run.output().code == 0, "\(run.output().stdout)\n\(run.output().stderr)")
        #expect(try sqlite(store, "SELECT COUNT(*) AS n FROM events WHERE to_status = 'failed'").first?["n"] == "0")
        for name in ["a", "b"] { #expect(try jsonlSeqs(folder.path("out/\(name).jsonl")) == Array(0..<5_000)) }
    }

    @Test func finding2_aFullDiskFailsItemsClearlyReadsStillAnswerAndARecoverFinishesOnceSpaceIsFreed() async throws {
        let folder = try Folder()
        let disk = folder.path("disk")
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        guard try await system(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", disk]).code == 0 else {
            print("note: skipped: mounting a tmpfs needs root (CI runs as root)")
            return
        }
        defer { _ = try? blockingSystem(["umount", "-l", disk]) }
        let db = "disk/engine.sqlite"
        // 4 × 1,500 documents of 1 KiB: about 6 MB staged, twice what the store's disk holds.
        try folder.write("spec.json", Self.spec(items: ["a", "b", "c", "d"], documents: 1_500, documentBytes: 1_024, concurrency: 4))
        let run = try await CLI.run(["run", "spec.json", "--quiet", "--db", db], in: folder.url, timeout: 120)
        #expect(run.code == 1, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("the store's disk is full"), "\(run.stdout)")
        // Reading needs no write.
        let items = try await CLI.run(["items", "--json", "--db", db], in: folder.url)
        #expect(items.code == 0, "\(items.stderr)")
        #expect(try await CLI.run(["status", "--db", db], in: folder.url).code == 0)

        // Room for the WAL too: it is checkpointed every 64 MiB (Store.tune).
        #expect(try await system(["mount", "-o", "remount,size=256m", disk]).code == 0)
        let recovered = try await CLI.run(["retry", "--type", "recover", "--failed", "--quiet", "--db", db], in: folder.url, timeout: 120)
        #expect(recovered.code == 0, "\(recovered.stdout)\n\(recovered.stderr)")
        for item in try await itemsJSON(folder, db: db) {
            let name = try #require(item["name"] as? String)
            #expect(item["status"] as? String == "succeeded", "\(name): \(item)")
            #expect(try jsonlSeqs(folder.path("out/\(name).jsonl")) == Array(0..<1_500), "\(name)")
        }
        #expect(try sqlite(folder.path(db), "PRAGMA integrity_check").first?["integrity_check"] == "ok")
    }

    @Test func finding4_anotherOSUserReadingTheStoreNeverJudgesALiveWorkerDead() async throws {
        guard getuid() == 0, installed("runuser"),
              try await system(["runuser", "-u", "nobody", "--", CLI.binary.path, "--help"]).code == 0
        else {
            print("note: skipped: needs root, runuser, and a binary the user nobody may run")
            return
        }
        let folder = try Folder()
        try await system(["chmod", "755", folder.url.path])
        try folder.write("spec.json", Self.spec(items: ["slow"], documents: 400, latency: 40, concurrency: 1))
        let run = try CLI.start(["run", "spec.json", "--quiet"], in: folder.url)
        let store = folder.path("engine.sqlite")
        #expect(await waitFor { (try? sqlite(store, "SELECT status FROM work_items").first?["status"]) == "running" })
        for command in [["items", "--json"], ["status"], ["history", "00000000-0000-0000-0000-000000000000"]] {
            let other = try await system(["runuser", "-u", "nobody", "--", CLI.binary.path] + command + ["--db", store])
            if command[0] == "history" {
                #expect(other.output.contains("no work item has the id"), "\(other.output)")
            } else {
                #expect(other.code == 0, "nobody: engine-run \(command): \(other.output)")
            }
        }
        #expect(await run.wait(seconds: 60))
        #expect(run.output().code == 0, "\(run.output().stdout)")
        let events = try sqlite(store, "SELECT COUNT(*) AS n FROM events WHERE error_kind = 'interrupted'")
        #expect(events.first?["n"] == "0")
        // With nothing running the -wal and -shm are gone, and nobody may not create them: still readable.
        #expect(!FileManager.default.fileExists(atPath: store + "-wal"))
        let idle = try await system(["runuser", "-u", "nobody", "--", CLI.binary.path, "status", "--json", "--db", store])
        #expect(idle.code == 0 && idle.output.contains("\"succeeded\":1"), "\(idle.output)")
    }

    @Test func finding7_oneStoredSpecThatCannotBeReadBreaksNoRead() async throws {
        let folder = try Folder()
        try folder.write("good.json", Self.spec(name: "good", items: ["a"], documents: 10))
        try folder.write("bad.json", Self.spec(name: "bad", items: ["a"], documents: 10).replacingOccurrences(of: "out/{item}", with: "out/bad/{item}"))
        #expect(try await CLI.run(["run", "good.json", "--quiet"], in: folder.url).code == 0)
        #expect(try await CLI.run(["run", "bad.json", "--quiet"], in: folder.url).code == 0)
        _ = try sqlite(folder.path("engine.sqlite"), """
            UPDATE jobs SET spec_json = '{"retry": {"max_attempts": 0}}', settings_json = '{"retry": {"max_attempts": 0}}'
            WHERE name = 'bad'
            """)
        let status = try await CLI.run(["status", "--json"], in: folder.url)
        #expect(status.code == 0, "\(status.stderr)")
        let jobs = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [[String: Any]])
        #expect(jobs.map { $0["name"] as? String } == ["good", "bad"])
        #expect(jobs[0]["spec_error"] is NSNull)
        #expect((jobs[1]["spec_error"] as? String)?.contains("cannot be read") == true, "\(jobs[1])")
        #expect(try await CLI.run(["items", "--job", "good"], in: folder.url).code == 0)
    }

    @Test func finding8_SIGTERMEndsARunWhoseCollectorNeverReturnsWithinSeconds() async throws {
        let folder = try Folder()
        #expect(mkfifo(folder.path("in.fifo"), 0o600) == 0)
        try folder.write("spec.json", """
            {"name": "fifo", "collector": {"type": "jsonl", "path": "in.fifo"},
             "ingester": {"type": "jsonl", "path": "out/{item}.jsonl"}, "items": [{"name": "reader"}]}
            """)
        let run = try CLI.start(["run", "spec.json", "--quiet"], in: folder.url, environment: ["ENGINE_STOP_GRACE_SECONDS": "2"])
        #expect(await waitFor { (try? sqlite(folder.path("engine.sqlite"), "SELECT status FROM work_items").first?["status"]) == "running" })
        try? await Task.sleep(for: .seconds(0.2))
        run.kill(SIGTERM)
        // A grace of 2 s for the collector call, then the item is abandoned.
        #expect(await run.wait(seconds: 15), "engine-run still running 15 s after SIGTERM")
        if run.process.isRunning { run.kill(SIGKILL) }
        #expect(run.output().code == 143)
        let item = try #require(try await itemsJSON(folder).first)
        #expect(item["status"] as? String == "failed" && item["error_kind"] as? String == "interrupted", "\(item)")
        #expect((item["error"] as? String)?.contains("did not return within") == true, "\(item)")
    }

    @Test func finding10_serveRefusesAPollIntervalThatWouldBusyPoll() async throws {
        let folder = try Folder()
        let serve = try await CLI.run(["serve", "--insecure-no-auth", "--poll-seconds", "0.0001"], in: folder.url)
        #expect(serve.code == 2)
        #expect(serve.stderr.contains("--poll-seconds 0.0001 is not valid"), "\(serve.stderr)")
    }

    @Test func finding10_withSyncFullTheFolderIsSyncedAfterASinkFileIsCreated() async throws {
        guard installed("strace") else {
            #expect(!inCI, "strace is missing; .ci/run installs it")
            print("note: skipped: strace is not installed")
            return
        }
        let folder = try Folder()
        try folder.write("spec.json", Self.spec(items: ["a"], documents: 20).replacingOccurrences(
            of: #""concurrency": 2,"#, with: #""concurrency": 1, "checkpoint": {"sync": "full"},"#))
        try FileManager.default.createDirectory(atPath: folder.path("out"), withIntermediateDirectories: true)
        let traced = try await system(["strace", "-f", "-e", "trace=openat,fsync", "-o", folder.path("trace"),
                                 CLI.binary.path, "run", folder.path("spec.json"), "--quiet", "--db", folder.path("engine.sqlite")])
        #expect(traced.code == 0, "\(traced.output)")
        let trace = try String(contentsOfFile: folder.path("trace"), encoding: .utf8)
        // The folder opened as a directory, then that descriptor fsynced.
        let outFolder = folder.path("out")
        let opened = trace.split(separator: "\n").compactMap { line -> String? in
            guard line.contains("openat("), line.contains("\"\(outFolder)\""), line.contains("O_DIRECTORY"),
                  let fd = line.split(separator: "=").last?.trimmingCharacters(in: .whitespaces), Int(fd) != nil
            else { return nil }
            return fd
        }
        #expect(!opened.isEmpty, "the sink's folder was never opened to be synced")
        #expect(opened.contains { fd in trace.contains("fsync(\(fd))") }, "the sink's folder was opened but not fsynced")
    }

    @Test func finding10_whenOneOfTwoRunsDiesTheOtherFinishesItsItems() async throws {
        let folder = try Folder()
        try folder.write("spec.json", Self.spec(items: ["a", "b", "c", "d"], documents: 300, latency: 15, concurrency: 2))
        let first = try CLI.start(["run", "spec.json", "--quiet"], in: folder.url)
        let store = folder.path("engine.sqlite")
        let pid = first.process.processIdentifier
        #expect(await waitFor { (try? sqlite(store, "SELECT COUNT(*) AS n FROM work_items WHERE lease_owner LIKE '%:\(pid):%'").first?["n"]) == "2" })
        let second = try CLI.start(["run", "spec.json", "--quiet"], in: folder.url)
        try? await Task.sleep(for: .seconds(0.5))
        first.kill(SIGKILL)
        #expect(await first.wait(seconds: 10))
        #expect(await second.wait(seconds: 90))
        #expect(second.output().code == 0, "\(second.output().stdout)\n\(second.output().stderr)")
        for item in try await itemsJSON(folder) {
            let name = try #require(item["name"] as? String)
            #expect(item["status"] as? String == "succeeded", "\(name)")
            #expect(try jsonlSeqs(folder.path("out/\(name).jsonl")) == Array(0..<300), "\(name)")
        }
    }
}
