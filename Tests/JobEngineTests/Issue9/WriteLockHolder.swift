import Dispatch
import Foundation
import JobEngineTestSupport

@testable import JobEngine

/// Another connection holding the store's write lock (`BEGIN IMMEDIATE`) for a while, as another
/// process enqueuing a large spec does.
final class WriteLockHolder: Sendable {
    private let released = DispatchSemaphore(value: 0)

    private init() {}

    /// Takes the lock on a thread of its own and returns once it is held; it is released after `seconds`.
    static func take(_ path: String, for seconds: Double) async -> WriteLockHolder {
        await withCheckedContinuation { continuation in
            let holder = WriteLockHolder()
            holder.start(path, seconds) { continuation.resume(returning: holder) }
        }
    }

    /// As `take`, for a caller on a plain thread (a collector).
    static func takeBlocking(_ path: String, for seconds: Double) -> WriteLockHolder {
        let holder = WriteLockHolder()
        let taken = DispatchSemaphore(value: 0)
        holder.start(path, seconds) { taken.signal() }
        taken.wait()
        return holder
    }

    private func start(_ path: String, _ seconds: Double, taken: @escaping @Sendable () -> Void) {
        Thread.detachNewThread { [released] in
            do {
                let db = try Connection(path: path, busyTimeoutMilliseconds: 10_000)
                try db.execute("BEGIN IMMEDIATE")
                taken()
                Thread.sleep(forTimeInterval: seconds)
                try db.execute("COMMIT")
                db.close()
            } catch {
                fatalError("the test could not hold the write lock: \(error)")
            }
            released.signal()
        }
    }

    /// Waits (off the cooperative pool) until the lock was released.
    func waitReleased() async {
        let released = self.released
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                released.wait()
                continuation.resume()
            }
        }
    }
}

/// Polls `condition` every 20 ms (off the cooperative pool's blocking paths) until it holds or
/// `seconds` pass; returns whether it held.
func eventually(seconds: Double = 20, _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(TestTime.scaled(seconds))
    while Date() < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try condition()
}

/// An engine whose SQLite busy timeout is short, so lock contention shows within a test's time.
func contendedEngine(_ folder: TemporaryDirectory, leaseSeconds: Double = 30, stopGraceSeconds: Double = 3) throws -> Engine {
    try Engine(storePath: folder.storePath, access: .readWrite, leaseSeconds: leaseSeconds, stopGraceSeconds: stopGraceSeconds,
               busyTimeoutMilliseconds: 100, logger: quietLogger)
}
