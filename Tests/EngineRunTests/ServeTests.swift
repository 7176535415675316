import Foundation
import JobEngineTestSupport
import Testing

/// `engine-run serve` as an operator runs it: a real process on loopback, called with curl.
@Suite struct ServeTests {
    /// A running `engine-run serve` on a free port.
    final class Server {
        let running: CLI.Running
        let port: Int
        let key: String

        init(in folder: Folder, key: String = "serve-test-key", keyFromEnvironment: Bool = false, arguments: [String] = [],
             pollSeconds: Double = 0.2, environment: [String: String] = [:]) async throws {
            self.key = key
            running = try CLI.start(["serve", "--port", "0", "--poll-seconds", "\(pollSeconds)"] + (keyFromEnvironment ? [] : ["--api-key", key]) + arguments,
                                    in: folder.url, environment: environment.merging(keyFromEnvironment ? ["ENGINE_API_KEY": key] : [:]) { $1 })
            let deadline = Date().addingTimeInterval(TestTime.scaled(60))
            var port: Int?
            while port == nil && Date() < deadline && running.process.isRunning {
                try? await Task.sleep(for: .seconds(0.05))
                let out = running.stdoutSoFar
                if let range = out.range(of: "http://127.0.0.1:") {
                    port = Int(out[range.upperBound...].prefix { $0.isNumber })
                }
            }
            guard let port else {
                running.kill(SIGKILL)
                running.process.waitUntilExit()
                throw ServeFailure(message: "serve did not start: \(running.output().stderr)")
            }
            self.port = port
        }

        /// curl against the server: (HTTP status, body).
        func curl(_ method: String, _ path: String, json: String? = nil, key: String?? = nil) throws -> (status: Int, body: String) {
            var arguments = ["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, "http://127.0.0.1:\(port)\(path)"]
            if let key = key ?? self.key { arguments += ["-H", "apikey: \(key)"] }
            if let json { arguments += ["-H", "Content-Type: application/json", "--data", json] }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["curl"] + arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let text = String(decoding: data, as: UTF8.self)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
        }

        deinit {
            if running.process.isRunning {
                running.kill(SIGKILL)
                running.process.waitUntilExit()
            }
        }
    }

    struct ServeFailure: Error { let message: String }

    /// Waits until every item of the store satisfies `condition` (up to `seconds`).
    func waitForItems(_ folder: Folder, seconds: Double = 60, _ condition: ([[String: Any]]) -> Bool) async throws -> [[String: Any]] {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let items = try await itemsJSON(folder)
            if condition(items) || Date() > deadline { return items }
            try? await Task.sleep(for: .seconds(0.2))
        }
    }

    @Test(arguments: [
        ([String](), ["ENGINE_API_KEY": ""], "--api-key"),
        (["--api-key", " "], [:], "empty"),
        (["--insecure-no-auth", "--api-key", "k"], [:], "exclude each other"),
        (["--api-key", "k", "--port", "70000"], [:], "--port 70000"),
        (["--api-key", "k", "--poll-seconds", "0"], [:], "--poll-seconds"),
    ] as [([String], [String: String], String)])
    func refusesToStartWithoutAKeyOrWithBadOptions(arguments: [String], environment: [String: String], mention: String) async throws {
        let folder = try Folder()
        var env = environment
        if env["ENGINE_API_KEY"] == "" { env["ENGINE_API_KEY"] = nil }
        let output = try await CLI.run(["serve"] + arguments, in: folder.url, environment: env, timeout: 30)
        #expect(output.code == 2, "\(output.stderr)")
        #expect(output.stderr.contains(mention), "\(output.stderr)")
        #expect(output.stderr.split(separator: "\n").count <= 3)
        #expect(!FileManager.default.fileExists(atPath: folder.path("engine.sqlite")), "a refused serve created a store")
    }

    @Test func servesQueuedJobsAndRetriesOverHTTPWithTheKeyFromTheEnvironment() async throws {
        let folder = try Folder()
        try FileManager.default.copyItem(at: EndToEndTests.example, to: folder.url.appendingPathComponent("news.json"))
        let queued = try await CLI.run(["run", "news.json", "--enqueue"], in: folder.url)
        #expect(queued.code == 0, "\(queued.stderr)")
        #expect(queued.stdout.contains("2 work item(s) queued"))
        #expect(try await itemsJSON(folder).allSatisfy { $0["status"] as? String == "pending" })

        let server = try await Server(in: folder, key: "from-env", keyFromEnvironment: true)
        // The worker runs the queued job: q1 succeeds, q2's sink times out once (max_attempts 1).
        let settled = try await waitForItems(folder) { items in items.allSatisfy { ["succeeded", "failed"].contains($0["status"] as? String) } }
        let failed = try #require(settled.first { $0["name"] as? String == "q2" })
        #expect(failed["status"] as? String == "failed")
        let id = try #require(failed["id"] as? String)

        #expect(try server.curl("GET", "/healthz", key: .some(nil)).status == 200)
        #expect(try server.curl("GET", "/api/pipelines/jobs", key: .some(nil)).status == 401)
        let retry = try server.curl("PUT", "/api/pipelines/work-items/retry?type=recover", json: #"{"work_item_ids": ["\#(id)"]}"#)
        #expect(retry.status == 200)
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(retry.body.utf8)) as? [String: Any])
        #expect(answer["total"] as? Int == 1)

        let done = try await waitForItems(folder) { items in items.allSatisfy { $0["status"] as? String == "succeeded" } }
        let item = try #require(done.first { $0["id"] as? String == id })
        #expect(item["status"] as? String == "succeeded")
        #expect(item["collected_total"] as? Int == 1000, "recover collected nothing again")
        #expect(try jsonlSeqs(folder.path("out/q2.jsonl")) == Array(0..<1000))
        let page = try server.curl("GET", "/", key: .some(nil))
        #expect(page.status == 200 && page.body.contains("<html lang=\"en\">"))
        server.running.kill(SIGTERM)
        #expect(await server.running.wait(seconds: 15))
        #expect(server.running.process.terminationStatus == 0, "\(server.running.output().stderr)")
    }

    @Test func sigtermStopsRunningItemsAtACheckpointAndTheNextServeContinuesThem() async throws {
        let folder = try Folder()
        try folder.write("slow.json", """
            {"name": "slow", "concurrency": 2,
             "collector": {"type": "synthetic", "documents": 3000, "page_size": 20, "document_bytes": 64, "latency_ms": 40},
             "ingester": {"type": "jsonl", "path": "out/{item}.jsonl", "batch_size": 20},
             "items": [{"name": "a"}, {"name": "b"}]}
            """)
        #expect(try await CLI.run(["run", "slow.json", "--enqueue"], in: folder.url).code == 0)
        let first = try await Server(in: folder)
        // Polled straight from the store (not through `items --json`, a process per look), on a thread
        // of its own: the signal must land while the items run, also on a slow (sanitizer) build and
        // while the other suites keep the cooperative pool busy (a look delayed by seconds sent it after
        // the items had finished).
        let deadline = Date().addingTimeInterval(TestTime.scaled(60))
        let store = folder.path("engine.sqlite")
        let pid = first.running.process.processIdentifier
        await withCheckedContinuation { (signalled: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                while Date() < deadline,
                      (try? sqlite(store, "SELECT MAX(collected) AS top FROM work_items").first?["top"])
                        .flatMap { $0 }.flatMap { Int($0) } ?? 0 <= 100 {
                    Thread.sleep(forTimeInterval: 0.02)
                }
                kill(pid, SIGTERM)
                signalled.resume()
            }
        }
        let started = Date()
        #expect(await first.running.wait(seconds: 15), "serve did not stop on SIGTERM")
        #expect(first.running.process.terminationStatus == 0, "\(first.running.output().stderr)")
        #expect(Date().timeIntervalSince(started) < TestTime.scaled(10))

        let stopped = try await itemsJSON(folder)
        #expect(stopped.allSatisfy { $0["status"] as? String != "running" }, "\(stopped)")
        let interrupted = stopped.filter { $0["error_kind"] as? String == "interrupted" }
        #expect(!interrupted.isEmpty, "\(stopped.map { "\($0["name"] ?? "") \($0["status"] ?? "") \($0["error_kind"] ?? "") \($0["collected"] ?? "")" })")
        #expect(interrupted.allSatisfy { ($0["collected"] as? Int ?? 0) > 0 }, "their checkpoints were kept")

        let second = try await Server(in: folder)
        let done = try await waitForItems(folder) { items in items.allSatisfy { $0["status"] as? String == "succeeded" } }
        #expect(done.allSatisfy { $0["status"] as? String == "succeeded" }, "\(done)")
        // Continued from the checkpoint: nothing collected twice.
        #expect(done.allSatisfy { $0["collected_total"] as? Int == 3000 }, "\(done.map { $0["collected_total"] ?? 0 })")
        for name in ["a", "b"] { #expect(try jsonlSeqs(folder.path("out/\(name).jsonl")) == Array(0..<3000)) }
        second.running.kill(SIGINT)
        #expect(await second.running.wait(seconds: 15))
    }
}
