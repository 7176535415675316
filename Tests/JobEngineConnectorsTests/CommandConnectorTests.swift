import Foundation
import JobEngine
import Testing

@testable import JobEngineConnectors

/// The `command` collector and sink with real programs (Python scripts the tests write).
@Suite struct CommandConnectorTests {
    /// Prints `documents` documents in pages of three, resuming from `ENGINE_CURSOR`; with
    /// `fail_at`, exits with `status` when it reaches that document, once (a marker file remembers).
    static let collector = """
        import json, os, sys
        params = json.loads(os.environ["ENGINE_PARAMS"])
        total, per = params.get("documents", 9), 3
        start = int(os.environ.get("ENGINE_CURSOR", "0"))
        print("collecting from", start, "for", os.environ["ENGINE_ITEM"], file=sys.stderr, flush=True)
        if params.get("garbage"):
            print("this is not json", flush=True)
        for page in range(start, total, per):
            marker = params.get("marker")
            if "fail_at" in params and page >= params["fail_at"] and not os.path.exists(marker):
                open(marker, "w").close()
                print("source went away", file=sys.stderr, flush=True)
                sys.exit(params.get("status", 75))
            for n in range(page, min(total, page + per)):
                print(json.dumps({"key": "d%d" % n, "data": {"n": n, "item": os.environ["ENGINE_ITEM"], "region": os.environ["REGION"]}}))
            if page + per < total:
                print(json.dumps({"cursor": str(page + per)}), flush=True)
        """

    /// Appends each batch's documents to `SINK_FILE` unless its key was seen, then acknowledges it.
    static let sink = """
        import json, os, sys
        out = os.environ["SINK_FILE"]
        seen = set(open(out + ".keys").read().split()) if os.path.exists(out + ".keys") else set()
        for line in sys.stdin:
            batch = json.loads(line)
            key = batch["idempotency_key"]
            if key not in seen:
                with open(out, "a") as f:
                    for d in batch["documents"]:
                        f.write(json.dumps({"item": batch["item"], "seq": d["seq"], "key": d["key"], "data": d["data"]}) + "\\n")
                with open(out + ".keys", "a") as f:
                    f.write(key + "\\n")
                seen.add(key)
            print(json.dumps({"ack": key}), flush=True)
        """

    static func spec(_ folder: TemporaryFolder, params: String, maxAttempts: Int = 1, sink: TestSink = .jsonl) throws -> JobSpec {
        try collector.write(toFile: folder.path("collect.py"), atomically: true, encoding: .utf8)
        return try JobSpec(json: Data("""
            {"name": "programs", "retry": {"max_attempts": \(maxAttempts), "backoff_ms": 0},
             "collector": {"type": "command", "command": ["python3", "collect.py"], "env": {"REGION": "eu"}, "timeout_seconds": 60},
             "ingester": \(sink.spec(batchSize: 4)),
             "items": [{"name": "a", "params": \(params)}]}
            """.utf8))
    }

    static func expected(_ count: Int, item: String = "a") -> [String] {
        (0..<count).map { #"{"item":"\#(item)","n":\#($0),"region":"eu"}"# }
    }

    @Test func pagesEndAtCursorLinesAndTheProgramsStderrGoesToTheItemsLog() async throws {
        let folder = try TemporaryFolder()
        let log = CapturedLog()
        let engine = try connectorEngine(folder, log: log)
        let job = try await engine.submit(Self.spec(folder, params: #"{"documents": 10}"#), baseDirectory: folder.url).job
        let summary = try await engine.run(jobID: job.id)
        #expect(summary.allSucceeded, "\(summary.items.map { $0.lastError ?? "" })")
        #expect(sinkData(folder.path("out/a.jsonl")) == Self.expected(10))
        #expect(log.text.contains("collecting from 0 for a"))
        await engine.shutdown()
    }

    /// Exit 75 at the third page: `recover` starts the program again at the checkpointed cursor;
    /// `restart` starts it from the beginning with the sink emptied. Each document once either way.
    @Test(arguments: TestSink.allCases, [RetryMode.recover, .restart])
    func exit75IsTransientAndRecoverStartsTheProgramAtTheLastCursor(sink: TestSink, mode: RetryMode) async throws {
        let folder = try TemporaryFolder()
        let log = CapturedLog()
        let engine = try connectorEngine(folder, log: log)
        let params = #"{"documents": 12, "fail_at": 6, "marker": "\#(folder.path("failed-once"))"}"#
        let job = try await engine.submit(Self.spec(folder, params: params, sink: sink), baseDirectory: folder.url).job
        let failed = try #require(try await engine.run(jobID: job.id).items.first)
        #expect(failed.status == .failed && failed.errorKind == .transient, "\(failed.lastError ?? "")")
        #expect(failed.lastError?.contains("exited with status 75") == true && failed.lastError?.contains("source went away") == true,
                "\(failed.lastError ?? "")")
        #expect(failed.collected == 6)
        _ = try await engine.retry([failed.id], mode: mode)
        #expect(try await engine.run(jobID: job.id).allSucceeded)
        #expect(try sink.delivered(folder, item: "a") == Self.expected(12), "each document once")
        // The program's stderr lines (the failure's message quotes them too).
        let starts = log.text.split(separator: "\n").filter { $0.contains("collecting from 0 for a") && !$0.contains("status 75") }.count
        if mode == .recover {
            #expect(log.text.contains("collecting from 6 for a") && starts == 1, "the program was started again at the checkpointed cursor: \(starts) starts from 0")
        } else {
            #expect(!log.text.contains("collecting from 6 for a") && starts == 2, "restart started the program from the beginning: \(starts) starts from 0")
        }
        await engine.shutdown()
    }

    @Test func anotherExitStatusOrOutputThatIsNotJSONIsPermanent() async throws {
        let folder = try TemporaryFolder()
        let engine = try connectorEngine(folder)
        let params = #"{"documents": 9, "fail_at": 3, "status": 3, "marker": "\#(folder.path("failed-once"))"}"#
        let job = try await engine.submit(Self.spec(folder, params: params, maxAttempts: 3), baseDirectory: folder.url).job
        let failed = try #require(try await engine.run(jobID: job.id).items.first)
        #expect(failed.errorKind == .permanent && failed.attempt == 1 && failed.lastError?.contains("status 3") == true,
                "\(failed.lastError ?? "")")
        _ = try await engine.submit(Self.spec(folder, params: #"{"garbage": true}"#, maxAttempts: 3), baseDirectory: folder.url)
        _ = try await engine.retry([failed.id], mode: .restart)
        let garbage = try #require(try await engine.run(jobID: job.id).items.first)
        #expect(garbage.errorKind == .permanent && garbage.lastError?.contains("not a JSON object") == true, "\(garbage.lastError ?? "")")
        await engine.shutdown()
    }

    @Test func aSinkProgramThatExits75FailsTheItemAndRecoverDeliversTheRestOnce() async throws {
        let folder = try TemporaryFolder()
        // The sink gives up (75) at its second batch the first time it runs.
        let flaky = Self.sink.replacingOccurrences(of: "    batch = json.loads(line)\n", with: """
                batch = json.loads(line)
                if batch["documents"][0]["seq"] == 10 and not os.path.exists("gave-up"):
                    open("gave-up", "w").close()
                    print("warehouse unavailable", file=sys.stderr, flush=True)
                    sys.exit(int(os.environ.get("STATUS", "75")))

            """)
        try flaky.write(toFile: folder.path("sink.py"), atomically: true, encoding: .utf8)
        let engine = try connectorEngine(folder)
        for (name, status) in [("transient", "75"), ("permanent", "2")] {
            try? FileManager.default.removeItem(atPath: folder.path("gave-up"))
            let spec = try JobSpec(json: Data("""
                {"name": "\(name)", "retry": {"max_attempts": 3, "backoff_ms": 0},
                 "collector": {"type": "synthetic", "documents": 25, "page_size": 5, "document_bytes": 60},
                 "ingester": {"type": "command", "command": ["python3", "sink.py"],
                              "env": {"SINK_FILE": "\(name).jsonl", "STATUS": "\(status)"}, "batch_size": 10},
                 "items": [{"name": "a"}]}
                """.utf8))
            let job = try await engine.submit(spec, baseDirectory: folder.url).job
            let item = try #require(try await engine.run(jobID: job.id).items.first)
            if status == "75" {
                #expect(item.status == .succeeded && item.attempt == 2, "retried automatically with recover: \(item.lastError ?? "")")
            } else {
                #expect(item.status == .failed && item.errorKind == .permanent && item.attempt == 1
                        && item.lastError?.contains("warehouse unavailable") == true, "\(item.lastError ?? "")")
                _ = try await engine.retry([item.id], mode: .recover)
                #expect(try await engine.run(jobID: job.id).allSucceeded)
            }
            #expect(sinkData(folder.path("\(name).jsonl")).count == 25, "every document once")
        }
        await engine.shutdown()
    }

    /// A sink program that exits before reading: the write of a batch larger than a pipe's buffer
    /// meets a closed pipe. The item fails with the program's status; the engine lives on (SIGPIPE
    /// would have killed the process, this test's included).
    @Test func aSinkProgramThatExitsBeforeReadingFailsTheItemNotTheEngine() async throws {
        let folder = try TemporaryFolder()
        try "import sys\nsys.exit(75)\n".write(toFile: folder.path("gone.py"), atomically: true, encoding: .utf8)
        let engine = try connectorEngine(folder)
        let spec = try JobSpec(json: Data("""
            {"name": "gone", "collector": {"type": "synthetic", "documents": 20, "page_size": 20, "document_bytes": 20000},
             "ingester": {"type": "command", "command": ["python3", "gone.py"], "batch_size": 20},
             "items": [{"name": "a"}]}
            """.utf8))
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        let item = try #require(try await engine.run(jobID: job.id).items.first)
        let error = item.lastError ?? ""
        #expect(item.status == .failed && item.errorKind == .transient && (error.contains("status 75") || error.contains("cannot write")),
                "\(error)")
        await engine.shutdown()
    }

    /// A program that prints a lot before it reads a batch longer than a pipe holds: the batch is
    /// written while its stdout is read, so neither side waits on the other.
    @Test func aChattySinkProgramReceivesALargeBatchWithoutADeadlock() async throws {
        let folder = try TemporaryFolder()
        try """
            import json, sys
            for n in range(4000):
                print("warming up line %d %s" % (n, "x" * 60))
            sys.stdout.flush()
            for line in sys.stdin:
                batch = json.loads(line)
                print(json.dumps({"ack": batch["idempotency_key"]}), flush=True)
            """.write(toFile: folder.path("chatty.py"), atomically: true, encoding: .utf8)
        let engine = try connectorEngine(folder)
        let spec = try JobSpec(json: Data("""
            {"name": "chatty", "collector": {"type": "synthetic", "documents": 40, "page_size": 40, "document_bytes": 8000},
             "ingester": {"type": "command", "command": ["python3", "chatty.py"], "batch_size": 40, "timeout_seconds": 20},
             "items": [{"name": "a"}]}
            """.utf8))
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        let summary = try await engine.run(jobID: job.id)
        #expect(summary.allSucceeded, "\(summary.items.map { $0.lastError ?? "" })")
        await engine.shutdown()
    }

    /// A program that ignores SIGTERM, starts a helper that ignores it too, records both pids in
    /// `PIDS` and then hangs (after one page as a collector; before acknowledging as a sink).
    static let hanging = """
        import json, os, signal, subprocess, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        helper = subprocess.Popen([sys.executable, "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
        with open(os.environ["PIDS"], "w") as f:
            f.write("%d %d" % (os.getpid(), helper.pid))
        if os.environ.get("ROLE") == "collector":
            for n in range(3):
                print(json.dumps({"key": "d%d" % n, "data": {"n": n}}))
            print(json.dumps({"cursor": "3"}), flush=True)
        time.sleep(600)
        """

    /// Whether `pid` is a process that has not ended (a zombie waiting for its parent has ended).
    static func isRunning(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    /// A cancel stops the program's whole process group: the program and the helper it started,
    /// both ignoring SIGTERM, are gone (SIGKILL after the grace), for a collector and for a sink.
    @Test(arguments: ["collector", "sink"])
    func aCancelledItemLeavesNoProgramRunning(role: String) async throws {
        let folder = try TemporaryFolder()
        try Self.hanging.write(toFile: folder.path("hang.py"), atomically: true, encoding: .utf8)
        let engine = try connectorEngine(folder)
        let program = #"{"type": "command", "command": ["python3", "hang.py"], "env": {"PIDS": "pids", "ROLE": "\#(role)"}, "timeout_seconds": 600}"#
        let collector = role == "collector" ? program : #"{"type": "synthetic", "documents": 5, "page_size": 5}"#
        let ingester = role == "sink" ? program : #"{"type": "jsonl", "path": "out/{item}.jsonl"}"#
        let spec = try JobSpec(json: Data("""
            {"name": "hangs", "collector": \(collector), "ingester": \(ingester), "items": [{"name": "a"}]}
            """.utf8))
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        let handle = try await engine.start(jobID: job.id)
        var pids: [Int32] = []
        let started = await eventually(seconds: 30) {
            pids = ((try? String(contentsOfFile: folder.path("pids"), encoding: .utf8)) ?? "").split(separator: " ").compactMap { Int32($0) }
            return pids.count == 2 && pids.allSatisfy(Self.isRunning)
        }
        #expect(started, "the program and its helper run")
        if role == "collector" {
            #expect(await eventually(seconds: 30) { (try? await engine.items(jobID: job.id).first?.collected) == 3 },
                    "the first page is checkpointed while the program hangs")
        }
        _ = try await engine.cancel(jobID: job.id)
        let summary = try await handle.wait()
        #expect(summary.items.first?.status == .cancelled)
        let gone = await eventually(seconds: 30) { !pids.contains(where: Self.isRunning) }
        #expect(gone, "no program left running: \(pids.filter(Self.isRunning))")
        for pid in pids { kill(pid, SIGKILL) }
        await engine.shutdown()
    }

    @Test func theCommandSinkGetsEachBatchOnceAndAcknowledgesIt() async throws {
        let folder = try TemporaryFolder()
        try Self.sink.write(toFile: folder.path("sink.py"), atomically: true, encoding: .utf8)
        let engine = try connectorEngine(folder)
        let spec = try JobSpec(json: Data("""
            {"name": "to-program", "collector": {"type": "synthetic", "documents": 23, "page_size": 5, "document_bytes": 60},
             "ingester": {"type": "command", "command": ["python3", "sink.py"], "env": {"SINK_FILE": "delivered-{item}.jsonl"},
                          "batch_size": 10},
             "items": [{"name": "a"}]}
            """.utf8))
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        #expect(try await engine.run(jobID: job.id).allSucceeded)
        let seqs = sinkData(folder.path("delivered-{item}.jsonl")).count
        #expect(seqs == 23, "all 23 documents, in order, once")
        await engine.shutdown()
    }
}
