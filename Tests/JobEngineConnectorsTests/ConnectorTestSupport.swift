import CSQLite
import Foundation
import JobEngineTestSupport
import JobEngine
import JobEngineConnectors
import Logging
import Testing

/// A folder under the system's temporary folder, removed when the value goes away.
final class TemporaryFolder: Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("jobengine-connectors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

/// The token tests give the collector, in an environment variable set once for the whole process
/// (before any engine reads the environment).
enum TestToken {
    static let variable = "JOBENGINE_TEST_BRIGHTDATA_TOKEN"
    static let value: String = {
        let token = "tok-\(UUID().uuidString)"
        ProcessEnvironment.set(variable, token)
        return token
    }()
}

/// Log lines, kept so a test can look through them (for a secret that must never be logged).
final class CapturedLog: Sendable {
    private let lines = Locked<[String]>([])

    var text: String { lines.withLock { $0.joined(separator: "\n") } }

    var logger: Logger {
        var logger = Logger(label: "connectors-test") { _ in Handler(log: self) }
        logger.logLevel = .trace
        return logger
    }

    private struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = self.metadata.merging(event.metadata ?? [:]) { $1 }
            log.lines.withLock { $0.append("\(event.level) \(event.message) \(all)") }
        }
    }
}

/// An engine on a store in `folder`, with the connectors registered.
func connectorEngine(_ folder: TemporaryFolder, log: CapturedLog = CapturedLog()) throws -> Engine {
    _ = TestToken.value
    let engine = try Engine(storePath: folder.path("engine.sqlite"), logger: log.logger)
    Connectors.register(on: engine)
    return engine
}

/// The documents a JSONL sink file holds, as canonical JSON, in the order of their `seq` (each
/// line is `{"item", "seq", "key", "data"}`); a line out of sequence is reported.
func sinkData(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) -> [String] {
    let lines = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n")
    return lines.enumerated().map { index, line in
        guard let value = try? JSONValue.parse(Data(line.utf8)), case .number(let seq)? = value["seq"], let data = value["data"] else {
            Issue.record("not a sink line: \(line)", sourceLocation: sourceLocation)
            return ""
        }
        if Int(seq) != index { Issue.record("line \(index) has seq \(Int(seq))", sourceLocation: sourceLocation) }
        return String(decoding: data.canonicalJSON(), as: UTF8.self)
    }
}

/// The `engine-run` executable built beside this test bundle, run as an operator runs it.
enum EngineRun {
    static let binary: URL = {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("engine-run"),
            Bundle.main.bundleURL.appendingPathComponent("engine-run"),
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("engine-run"),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }()

    final class Running: Sendable {
        let process: Process
        let stderrURL: URL

        init(process: Process, stderrURL: URL) {
            self.process = process
            self.stderrURL = stderrURL
        }

        /// Waits (suspending, not blocking a cooperative thread) up to `seconds` for the exit.
        func wait(seconds: Double) async -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(10)) }
            if !process.isRunning { process.waitUntilExit() }
            return !process.isRunning
        }

        func kill(_ signal: Int32) { Foundation.kill(process.processIdentifier, signal) }

        /// SIGKILLs the process and waits until the kernel has ended it: its /proc entry is gone or a
        /// zombie. (`Process.isRunning` learns of the exit from SIGCHLD, which with several children
        /// exiting at once was seen to come 30 s late.)
        func killAndWait() async {
            let pid = process.processIdentifier
            Foundation.kill(pid, SIGKILL)
            let deadline = Date().addingTimeInterval(TestTime.scaled(30))
            while Date() < deadline {
                guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                      let close = stat.lastIndex(of: ")") else { return }
                let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
                if state == "Z" || state == "X" { return }
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
    }

    static func start(_ arguments: [String], in folder: TemporaryFolder, environment: [String: String]) throws -> Running {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = folder.url
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let stderrURL = folder.url.appendingPathComponent(".stderr-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return Running(process: process, stderrURL: stderrURL)
    }

    /// Runs to completion (up to two minutes); the exit code and what it printed on stderr.
    static func run(_ arguments: [String], in folder: TemporaryFolder, environment: [String: String]) async throws
        -> (code: Int32, stderr: String)
    {
        let running = try start(arguments, in: folder, environment: environment)
        if await !running.wait(seconds: 120) {
            running.kill(SIGKILL)
            Issue.record("engine-run \(arguments) did not finish within 120 s")
            running.process.waitUntilExit()
        }
        return (running.process.terminationStatus, (try? String(contentsOf: running.stderrURL, encoding: .utf8)) ?? "")
    }
}

/// The first column of every row `sql` returns from the SQLite file at `path`, as text.
func sqliteColumn(_ path: String, _ sql: String) throws -> [String] {
    var db: OpaquePointer?
    guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else { throw CocoaError(.fileReadUnknown) }
    defer { sqlite3_close_v2(db) }
    var statement: OpaquePointer?
    guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK else { throw CocoaError(.fileReadUnknown) }
    defer { sqlite3_finalize(statement) }
    var values: [String] = []
    while sqlite3_step(statement) == SQLITE_ROW {
        values.append(sqlite3_column_text(statement, 0).map { String(cString: $0) } ?? "")
    }
    return values
}

/// Whether `condition` holds within `seconds`, checking every 20 ms.
func eventually(seconds: Double = 20, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(TestTime.scaled(seconds))
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

/// The two sinks that must hold each document exactly once after any recover: a connector's
/// end-to-end tests run against both.
enum TestSink: String, CaseIterable, CustomTestStringConvertible {
    case jsonl, sqlite
    var testDescription: String { rawValue }

    /// The ingester's spec: `out/{item}.jsonl`, or table `documents` in `sink.sqlite`.
    func spec(batchSize: Int) -> String {
        switch self {
        case .jsonl: #"{"type": "jsonl", "path": "out/{item}.jsonl", "batch_size": \#(batchSize)}"#
        case .sqlite: #"{"type": "sqlite", "path": "sink.sqlite", "batch_size": \#(batchSize)}"#
        }
    }

    /// The documents delivered for `item`, in order, as the sink holds them.
    func delivered(_ folder: TemporaryFolder, item: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String] {
        switch self {
        case .jsonl: sinkData(folder.path("out/\(item).jsonl"), sourceLocation: sourceLocation)
        case .sqlite:
            try sqliteColumn(folder.path("sink.sqlite"), "SELECT data FROM documents WHERE item = '\(item)' ORDER BY seq")
        }
    }
}
