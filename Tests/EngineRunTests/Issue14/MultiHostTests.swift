import Foundation
import JobEngineTestSupport
@testable import JobEngine
@testable import JobEnginePostgres
import Logging
import Testing

/// The PostgreSQL server `.ci/run` starts (`JOBENGINE_TEST_POSTGRES_URL`); without it, these tests
/// are skipped outside CI and fail in CI.
enum MultiHostDatabase {
    static let url = ProcessInfo.processInfo.environment["JOBENGINE_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static let enabled = url != nil || ProcessInfo.processInfo.environment["CI"] == "true"

    /// A read-only engine on the store at `url`, once a process has made its tables (within 60 s).
    static func observer(_ url: String) async throws -> Engine {
        var opened: Engine?
        _ = await eventually(seconds: 60) {
            opened = try? Engine(postgres: url, access: .readOnly, hostID: "observer", logger: Logger(label: "observer"))
            return opened != nil
        }
        return try #require(opened, "the store's tables were never made")
    }

    /// The rows of `sql` in `engine`'s PostgreSQL store.
    static func query(_ engine: Engine, _ sql: String) throws -> [Row] {
        guard let store = engine.store as? PostgresStore else { throw SQLFailure(message: "not a PostgreSQL store") }
        return try store.sessions.withSession { db in try db.execute(sql) }
    }

    /// The server's URL with a schema of its own: a store as empty as a new file.
    static func freshURL() throws -> String {
        guard let url else { throw SQLFailure(message: "CI=true requires JOBENGINE_TEST_POSTGRES_URL (a PostgreSQL server)") }
        return url + (url.contains("?") ? "&" : "?") + "search_path=h_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    }
}

/// Three worker processes ("hosts", by `ENGINE_HOST_ID`) on one PostgreSQL store run one job while
/// one of them is SIGKILLed and another SIGSTOPped past its lease.
@Suite(.enabled(if: MultiHostDatabase.enabled, "JOBENGINE_TEST_POSTGRES_URL is not set: skipped outside CI"))
struct MultiHostTests {
    static let items = 200
    static let documents = 12

    @Test(.limit(minutes: 3))
    func threeHostsFinishAJobWhileOneIsKilledAndOneIsStoppedPastItsLease() async throws {
        let folder = try Folder()
        let url = try MultiHostDatabase.freshURL()
        let names = (0..<Self.items).map { #"{"name": "i\#($0)"}"# }.joined(separator: ", ")
        try folder.write("fleet.json", """
            {"name": "fleet", "concurrency": 4, "retry": {"max_attempts": 3, "backoff_ms": 0},
             "collector": {"type": "synthetic", "documents": \(Self.documents), "page_size": 3, "document_bytes": 64, "latency_ms": 150},
             "ingester": {"type": "postgres", "table": "docs", "batch_size": 4},
             "items": [\(names)]}
            """)
        func host(_ id: String) -> [String: String] { ["ENGINE_HOST_ID": id, "ENGINE_LEASE_SECONDS": "2"] }
        let a = try CLI.start(["run", "fleet.json", "--db", url], in: folder.url, environment: host("host-a"))
        // Opened once host-a's run has made the tables.
        let observer = try await MultiHostDatabase.observer(url)
        defer { observer.close() }
        func running(on host: String) async throws -> Int {
            guard let job = try await observer.job("fleet") else { return 0 }
            return try await observer.items(jobID: job.id, status: .running).filter { $0.leaseOwner?.hasPrefix(host + ":") == true }.count
        }
        let serve = ["serve", "--port", "0", "--insecure-no-auth", "--poll-seconds", "0.1", "--db", url]
        let b = try CLI.start(serve, in: folder.url, environment: host("host-b"))
        let c = try CLI.start(serve, in: folder.url, environment: host("host-c"))
        defer {
            c.kill(SIGCONT)
            c.kill(SIGKILL)
            b.kill(SIGKILL)
            a.kill(SIGKILL)
        }
        #expect(try await eventually(seconds: 60) { try await running(on: "host-b") > 0 }, "host-b took items")
        b.kill(SIGKILL)
        #expect(try await eventually(seconds: 60) { try await running(on: "host-c") > 0 }, "host-c took items")
        c.kill(SIGSTOP)
        // Past its lease (2 s): the others judge its items dead and recover them; its own commits,
        // once it runs again, must all be refused.
        try await Task.sleep(for: .seconds(5))
        c.kill(SIGCONT)
        #expect(await a.wait(seconds: 150), "the run on host-a finished")
        let output = a.output()
        #expect(output.code == 0, "\(output.stdout)\n\(output.stderr)")

        let job = try #require(try await observer.job("fleet"))
        let items = try await observer.items(jobID: job.id)
        #expect(items.count == Self.items && items.allSatisfy { $0.status == .succeeded },
                "\(items.filter { $0.status != .succeeded }.map { "\($0.name) \($0.status) \($0.lastError ?? "")" })")
        let rows = try MultiHostDatabase.query(observer, "SELECT item, COUNT(*) AS n, MIN(seq) AS first, MAX(seq) AS last FROM docs GROUP BY item")
        #expect(rows.count == Self.items && rows.allSatisfy {
            $0.int("n") == Self.documents && $0.int("first") == 0 && $0.int("last") == Self.documents - 1
        }, "each document of each item once in the postgres sink")
        // No item ever ran two attempts at once: in its history, every start follows the end of the one before.
        var interrupted = 0
        for item in items {
            var runningNow = false
            for event in try await observer.history(itemID: item.id) {
                if event.to == .running {
                    #expect(!runningNow, "\(item.name) started while running: \(event)")
                    runningNow = true
                } else if event.from == .running {
                    #expect(runningNow, "\(item.name) left running without having started: \(event)")
                    runningNow = false
                }
                if event.errorKind == .interrupted { interrupted += 1 }
            }
        }
        #expect(interrupted > 0, "the killed and the stopped hosts' items were taken over")
    }
}

extension MultiHostTests {
    /// The `postgres` sink writes a batch's rows in the transaction of its checkpoint: a process
    /// killed after the sink write (stalled there by a fault) leaves rows and checkpoint equal, and
    /// `resume` delivers the rest once.
    @Test(.limit(minutes: 2))
    func aKillAfterASinkWriteLeavesItsRowsAndItsCheckpointEqual() async throws {
        let folder = try Folder()
        let url = try MultiHostDatabase.freshURL()
        try folder.write("stall.json", """
            {"name": "stall", "collector": {"type": "synthetic", "documents": 100, "page_size": 10, "document_bytes": 64},
             "ingester": {"type": "postgres", "table": "docs", "batch_size": 10},
             "faults": [{"item": "a", "phase": "ingest", "at_document": 45, "times": 1, "stall_ms": 60000}],
             "items": [{"name": "a"}]}
            """)
        let run = try CLI.start(["run", "stall.json", "--db", url], in: folder.url)
        defer { run.kill(SIGKILL) }
        let observer = try await MultiHostDatabase.observer(url)
        defer { observer.close() }
        // The sink's table appears with the run's first batch: until then the query fails.
        let stalled = await eventually(seconds: 60) {
            (try? MultiHostDatabase.query(observer, "SELECT COUNT(*) AS n FROM docs").first?.int("n")) == 50
        }
        #expect(stalled, "the batch holding document 45 reached the sink and the run stalls")
        run.kill(SIGKILL)
        _ = await run.wait(seconds: 30)
        let job = try #require(try await observer.job("stall"))
        let item = try #require(try await observer.items(jobID: job.id).first)
        #expect(item.ingested == 50, "the checkpoint holds the batch the sink holds: \(item.ingested)")
        let resumed = try await CLI.run(["resume", "--db", url], in: folder.url, environment: ["ENGINE_LEASE_SECONDS": "1"])
        #expect(resumed.code == 0, "\(resumed.stdout)\n\(resumed.stderr)")
        let rows = try MultiHostDatabase.query(observer, "SELECT seq FROM docs ORDER BY seq").map { $0.int("seq") }
        #expect(rows == Array(0..<100), "each document once")
    }
}

/// Whether `condition` holds within `seconds`, looking every 50 ms (suspending, never blocking).
func eventually(seconds: Double, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(TestTime.scaled(seconds))
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

extension MultiHostTests {
    /// Two `serve` processes on one database: host-a serves the API only (`--no-worker`), host-b
    /// runs items and polls once a minute. A retry sent over HTTP to host-a runs on host-b within
    /// seconds: the retry's transaction sent `NOTIFY`, host-b's worker `LISTEN`s.
    @Test(.limit(minutes: 2))
    func anHTTPRetryOnOneServeWakesTheWorkerOfAnotherAtOnce() async throws {
        let folder = try Folder()
        let url = try MultiHostDatabase.freshURL()
        try folder.write("wake.json", """
            {"name": "wake", "collector": {"type": "synthetic", "documents": 20, "page_size": 5, "document_bytes": 64},
             "ingester": {"type": "postgres", "table": "docs", "batch_size": 5},
             "faults": [{"item": "a", "phase": "collect", "at_document": 7, "times": 1, "message": "source down"}],
             "items": [{"name": "a"}]}
            """)
        let workerHost = try await ServeTests.Server(in: folder, arguments: ["--db", url], pollSeconds: 60,
                                                      environment: ["ENGINE_HOST_ID": "host-b"])
        let apiHost = try await ServeTests.Server(in: folder, arguments: ["--db", url, "--no-worker"], pollSeconds: 60,
                                                   environment: ["ENGINE_HOST_ID": "host-a"])
        let observer = try await MultiHostDatabase.observer(url)
        defer { observer.close() }
        let enqueued = try await CLI.run(["run", "wake.json", "--enqueue", "--db", url], in: folder.url, environment: ["ENGINE_HOST_ID": "submitter"])
        #expect(enqueued.code == 0, "\(enqueued.stderr)")
        func item() async throws -> WorkItem? {
            guard let job = try await observer.job("wake") else { return nil }
            return try await observer.items(jobID: job.id).first
        }
        #expect(try await eventually(seconds: 20) { try await item()?.status == .failed }, "host-b ran the queued job at once and it failed")
        let failed = try #require(try await item())

        let started = Date()
        let answer = try apiHost.curl("PUT", "/api/pipelines/work-items/retry?type=recover",
                                      json: #"{"work_item_ids": ["\#(failed.id.uuidString.lowercased())"]}"#)
        #expect(answer.status == 200 && answer.body.contains(#""total":1"#), "\(answer)")
        #expect(try await eventually(seconds: 20) { try await item()?.status == .succeeded }, "the retried item ran")
        #expect(Date().timeIntervalSince(started) < 30, "woken, not polled (host-b polls once a minute)")
        let starts = try MultiHostDatabase.query(observer, """
            SELECT host FROM events WHERE item_id = '\(failed.id.uuidString.lowercased())' AND to_status = 'running' ORDER BY id
            """).map { $0.string("host") ?? "" }
        #expect(starts == ["host-b", "host-b"], "host-b ran both attempts; the API host ran none: \(starts)")
        withExtendedLifetime(workerHost) {}
    }
}
