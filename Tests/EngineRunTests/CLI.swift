import CSQLite
import Foundation
import Testing

/// Runs the built `engine-run` binary the way an operator does.
enum CLI {
    /// The engine-run executable built beside this test bundle.
    static let binary: URL = {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("engine-run"),
            Bundle.main.bundleURL.appendingPathComponent("engine-run"),
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("engine-run"),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }()

    struct Output {
        let code: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs engine-run to completion in `folder` (up to `timeout` seconds) and returns what it printed.
    ///
    /// Waits by suspending, never by blocking: test functions run on Swift's cooperative pool, which
    /// has one thread per core here, and a test parked in a sleep loop starves every other suite
    /// running beside it (under ThreadSanitizer, past their time limits).
    static func run(_ arguments: [String], in folder: URL, environment: [String: String] = [:], executable: URL = binary,
                    timeout: Double = 120) async throws -> Output {
        let process = try start(arguments, in: folder, environment: environment, executable: executable)
        if await !process.wait(seconds: timeout) {
            process.process.terminate()
            Issue.record("engine-run \(arguments) did not finish within \(timeout) s")
            process.process.waitUntilExit()
        }
        return process.output()
    }

    /// A running engine-run whose output goes to files in `folder`.
    final class Running {
        let process: Process
        let stdoutURL: URL
        let stderrURL: URL

        init(process: Process, stdoutURL: URL, stderrURL: URL) {
            self.process = process
            self.stdoutURL = stdoutURL
            self.stderrURL = stderrURL
        }

        /// What the process printed on stdout so far; it may still be running.
        var stdoutSoFar: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }

        /// What the process printed; call it once the process has exited.
        func output() -> Output {
            Output(code: process.terminationStatus,
                   stdout: (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "",
                   stderr: (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "")
        }

        /// Waits up to `seconds` for the process to exit; true if it did. Suspends between looks
        /// (see ``CLI/run(_:in:environment:executable:timeout:)``).
        func wait(seconds: Double) async -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(5)) }
            if !process.isRunning { process.waitUntilExit() }
            return !process.isRunning
        }

        func kill(_ signal: Int32) {
            Foundation.kill(process.processIdentifier, signal)
        }
    }

    static func start(_ arguments: [String], in folder: URL, environment: [String: String] = [:], executable: URL = binary) throws
        -> Running
    {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = folder
        var env = ProcessInfo.processInfo.environment
        env["ENGINE_DB"] = nil
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let name = UUID().uuidString.prefix(8)
        let stdoutURL = folder.appendingPathComponent(".out-\(name)")
        let stderrURL = folder.appendingPathComponent(".err-\(name)")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return Running(process: process, stdoutURL: stdoutURL, stderrURL: stderrURL)
    }
}

/// A fresh temporary folder, removed when the value is deinitialised.
final class Folder: Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("engine-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func write(_ name: String, _ text: String) throws {
        let file = url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: file)
    }

    /// The bytes of a file, or nil when it does not exist.
    func contents(_ name: String) -> Data? { FileManager.default.contents(atPath: path(name)) }
}

/// Rows of an SQL query, each a column → text dictionary, through the system's SQLite.
func sqlite(_ path: String, _ sql: String) throws -> [[String: String]] {
    var db: OpaquePointer?
    guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil) == SQLITE_OK else {
        defer { sqlite3_close(db) }
        throw SQLFailure(message: String(cString: sqlite3_errmsg(db)))
    }
    defer { sqlite3_close(db) }
    sqlite3_busy_timeout(db, 5000)
    var statement: OpaquePointer?
    guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK else {
        throw SQLFailure(message: String(cString: sqlite3_errmsg(db)))
    }
    defer { sqlite3_finalize(statement) }
    var rows: [[String: String]] = []
    while true {
        switch sqlite3_step(statement) {
        case SQLITE_ROW:
            var row: [String: String] = [:]
            for index in 0..<sqlite3_column_count(statement) {
                let name = String(cString: sqlite3_column_name(statement, index))
                row[name] = sqlite3_column_text(statement, index).map { String(cString: $0) }
            }
            rows.append(row)
        case SQLITE_DONE:
            return rows
        case let code:
            throw SQLFailure(message: "step failed (\(code)): \(String(cString: sqlite3_errmsg(db)))")
        }
    }
}

struct SQLFailure: Error { let message: String }

/// The items of a store as `engine-run items --json` prints them.
func itemsJSON(_ folder: Folder, db: String = "engine.sqlite") async throws -> [[String: Any]] {
    let output = try await CLI.run(["items", "--json", "--db", db], in: folder.url)
    try #require(output.code == 0, "items --json failed: \(output.stderr)")
    return try #require(try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [[String: Any]])
}

/// The `seq` of every line of a JSONL sink file, in order.
func jsonlSeqs(_ path: String) throws -> [Int] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    return try text.split(separator: "\n").map { line in
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        return try #require(object["seq"] as? Int)
    }
}
