import Foundation
import JobEngineTestSupport
import Testing

@testable import JobEngine

/// A connection writing back to back leaves another process's busy handler a turn at the write lock
/// (`WriteLockShare`): SQLite's waiters poll, up to 100 ms apart, and a writer that begins again the
/// instant it commits can starve them for as long as it stays busy.
@Suite struct WriteLockShareTests {
    @Test func aPollingWriterGetsTheLockWhileTheEngineWritesBackToBack() async throws {
        let folder = try TemporaryDirectory()
        let setup = try Connection(path: folder.storePath)
        try setup.applyEngineFileSettings(pageSize: 4_096)
        try setup.execute("CREATE TABLE filler (n INTEGER, body BLOB)")
        setup.close()

        let pollerIn = Locked(false)
        let deadline = Date().addingTimeInterval(TestTime.scaled(20))
        // The engine side: long transactions (thousands of rows) with only microseconds between
        // them, until the poller got in or the deadline passed. Without a breather, a try of the
        // poller lands in such a gap about once in a thousand.
        let writerEnded: Date = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                do {
                    let writer = try Connection(path: folder.storePath)
                    // No checkpoint after a commit: one runs without the write lock, a gap of its own.
                    try writer.execute("PRAGMA wal_autocheckpoint = 0")
                    let body = Data(repeating: 7, count: 16)
                    while !pollerIn.withLock({ $0 }) && Date() < deadline {
                        try writer.inTransaction {
                            try writer.executeEach("INSERT INTO filler VALUES (?, ?)", 0..<5_000) { [.integer(Int64($0)), .blob(body)] }
                        }
                    }
                    writer.close()
                } catch {
                    Issue.record("the writer failed: \(error)")
                }
                continuation.resume(returning: Date())
            }
            // Another process's writer: SQLite's own busy handler, as Python's `timeout` uses it.
            Thread.detachNewThread {
                do {
                    let other = try Connection(path: folder.storePath, busyTimeoutMilliseconds: 30_000)
                    Thread.sleep(forTimeInterval: 0.2)  // the writer is in its stride
                    try other.execute("BEGIN IMMEDIATE")
                    pollerIn.withLock { $0 = true }
                    try other.execute("COMMIT")
                    other.close()
                } catch {
                    Issue.record("the polling writer failed: \(error)")
                }
            }
        }
        #expect(pollerIn.withLock { $0 })
        #expect(writerEnded < deadline, "the polling writer got the lock only once the back-to-back writer stopped")
    }
}
