import Foundation

/// A value behind a lock: the engine's one way to share mutable state between threads.
///
/// Built on `NSLock` (a pthread mutex) rather than `Synchronization.Mutex`: on Linux `Mutex` waits
/// on a futex through atomics compiled without ThreadSanitizer instrumentation, so
/// `swift test --sanitize=thread` reported every access under it as a race. A pthread mutex is
/// intercepted by the sanitizer, which keeps its reports meaningful. A class, so closures share it.
package final class Locked<Value>: @unchecked Sendable {
    // @unchecked: `value` is only touched while `lock` is held (inside `withLock`).
    private let lock = NSLock()
    private var value: Value

    package init(_ value: Value) {
        self.value = value
    }

    /// Runs `body` with exclusive access to the value.
    package func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
