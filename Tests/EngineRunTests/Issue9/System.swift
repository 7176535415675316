import Foundation

/// Runs a system command (mount, runuser, strace) to completion: its exit code and output.
///
/// On a thread of its own, awaited: a command may take seconds (a lock held for 7 s), and a test
/// blocked that long on one of the cooperative pool's two threads stalls every suite beside it.
@discardableResult
func system(_ arguments: [String], environment: [String: String]? = nil) async throws -> (code: Int32, output: String) {
    try await onOwnThread { try blockingSystem(arguments, environment: environment) }
}

/// Runs `body` on a new thread and awaits its result, leaving the cooperative pool free meanwhile.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// ``system(_:environment:)`` on the calling thread: for the few callers that cannot await (a
/// `defer`, the synchronous `installed` check that decides whether a test runs).
func blockingSystem(_ arguments: [String], environment: [String: String]? = nil) throws -> (code: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    if let environment { process.environment = environment }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Whether a command is on the PATH.
func installed(_ command: String) -> Bool {
    (try? blockingSystem(["sh", "-c", "command -v \(command)"]).code) == 0
}

/// True in CI (`CI=true`), where a test whose tools `.ci/run` installs must not skip.
let inCI = ProcessInfo.processInfo.environment["CI"] == "true"

/// Polls `condition` every 10 ms until it holds or `seconds` pass; returns whether it held.
/// Suspends between looks rather than blocking a cooperative thread.
func waitFor(seconds: Double = 30, _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try condition()
}
