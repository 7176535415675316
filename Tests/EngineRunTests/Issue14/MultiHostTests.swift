import Foundation
import JobEngine
import JobEnginePostgres
import Logging
import Testing

/// The PostgreSQL server `.ci/run` starts (`JOBENGINE_TEST_POSTGRES_URL`); without it, these tests
/// are skipped outside CI and fail in CI.
enum MultiHostDatabase {
    static let url = ProcessInfo.processInfo.environment["JOBENGINE_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static let enabled = url != nil || ProcessInfo.processInfo.environment["CI"] == "true"

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

    @Test(.timeLimit(.minutes(3)))
    func threeHostsFinishAJobWhileOneIsKilledAndOneIsStoppedPastItsLease() async throws {
        let folder = try Folder()
        let url = try MultiHostDatabase.freshURL()
        let names = (0..<Self.items).map { #"{"name": "i\#($0)"}"# }.joined(separator: ", ")
        try folder.write("fleet.json", """
            {"name": "fleet", "concurrency": 4, "retry": {"max_attempts": 3, "backoff_ms": 0},
             "collector": {"type": "synthetic", "documents": \(Self.documents), "page_size": 3, "document_bytes": 64, "latency_ms": 40},
             "ingester": {"type": "sqlite", "path": "sink.sqlite", "batch_size": 4},
             "items": [\(names)]}
            """)
        func host(_ id: String) -> [String: String] { ["ENGINE_HOST_ID": id, "ENGINE_LEASE_SECONDS": "2"] }
        let a = try CLI.start(["run", "fleet.json", "--db", url], in: folder.url, environment: host("host-a"))
        // Opened once host-a's run has made the tables.
        var opened: Engine?
        #expect(await eventually(seconds: 60) {
            opened = try? Engine(postgres: url, access: .readOnly, hostID: "observer", logger: Logger(label: "observer"))
            return opened != nil
        })
        let observer = try #require(opened)
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
        let rows = try sqlite(folder.path("sink.sqlite"), "SELECT item, COUNT(*) AS n, MIN(seq) AS first, MAX(seq) AS last FROM documents GROUP BY item")
        #expect(rows.count == Self.items && rows.allSatisfy {
            $0["n"] == "\(Self.documents)" && $0["first"] == "0" && $0["last"] == "\(Self.documents - 1)"
        }, "each document of each item once")
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

/// Whether `condition` holds within `seconds`, looking every 50 ms (suspending, never blocking).
func eventually(seconds: Double, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
