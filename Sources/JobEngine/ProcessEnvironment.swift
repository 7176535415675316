import Foundation

/// The process's environment variables, read, changed and handed to child processes under one lock.
///
/// glibc's `setenv` may move the `environ` array while another thread copies it (Foundation's
/// `ProcessInfo.environment` does, and a spawn reads it): the test run crashed in `memcpy` inside
/// `Process.run()` while another test set a variable. Every read the engine makes while it runs,
/// every spawn of a command connector and every change goes through here, so none overlaps another.
package enum ProcessEnvironment {
    private static let lock = NSLock()

    /// One variable's value; nil when it is not set.
    package static func value(_ name: String) -> String? {
        lock.withLock { ProcessInfo.processInfo.environment[name] }
    }

    /// Every variable, read under the lock.
    package static var all: [String: String] {
        lock.withLock { ProcessInfo.processInfo.environment }
    }

    /// Sets a variable (tests, and programs that configure themselves at start).
    package static func set(_ name: String, _ value: String) {
        lock.withLock { _ = setenv(name, value, 1) }
    }

    /// Runs `body` with the whole environment, holding the lock: a child process is spawned inside,
    /// so the spawn never overlaps a change either.
    package static func spawning<T>(_ body: ([String: String]) throws -> T) rethrows -> T {
        try lock.withLock { try body(ProcessInfo.processInfo.environment) }
    }
}
