import Foundation

/// Runs a system command (mount, runuser, strace) to completion: its exit code and output.
@discardableResult
func system(_ arguments: [String], environment: [String: String]? = nil) throws -> (code: Int32, output: String) {
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
    (try? system(["sh", "-c", "command -v \(command)"]).code) == 0
}

/// True in CI (`CI=true`), where a test whose tools `.ci/run` installs must not skip.
let inCI = ProcessInfo.processInfo.environment["CI"] == "true"

/// Polls `condition` every 10 ms until it holds or `seconds` pass; returns whether it held.
func waitFor(seconds: Double = 30, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.01)
    }
    return try condition()
}
