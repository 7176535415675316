import Foundation
import JobEngineTestSupport
import Testing

@testable import JobEngine

/// `SerializedDatabase.run`, the one bridge from async code to a connection: one hop onto the
/// connection's queue, no thread parked while waiting, and a task's cancel stops exactly its own work.
@Suite(.limit(minutes: 1)) struct AsyncBridgeTests {
    /// A query that never ends on its own: only an interrupt stops it.
    static let endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT COUNT(*) AS c FROM n"

    static func database() throws -> SerializedDatabase {
        try SerializedDatabase(label: "test") { try Connection(path: ":memory:") }
    }

    /// Holds the connection's queue on a thread of its own (as a slot thread's long write would)
    /// until the returned semaphore is signalled.
    static func hold(_ database: SerializedDatabase) async throws -> DispatchSemaphore {
        let holding = Locked(false)
        let release = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            database.sync { _ in
                holding.withLock { $0 = true }
                release.wait()
            }
        }
        try await waitFor(holding)
        return release
    }

    /// Waits until `flag` is set (by a body running on the connection's queue).
    static func waitFor(_ flag: Locked<Bool>) async throws {
        while !flag.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
    }

    @Test func aCancelInterruptsTheStatementItsCallIsRunning() async throws {
        let database = try Self.database()
        let started = Locked(false)
        let call = Task {
            try await database.run { db in
                started.withLock { $0 = true }
                return try db.execute(Self.endless).count
            }
        }
        try await Self.waitFor(started)
        try await Task.sleep(for: .milliseconds(50))  // well inside the statement
        call.cancel()
        await #expect(throws: CancellationError.self) { try await call.value }
        // The connection is usable at once: the interrupt ended with its statement.
        #expect(try await database.run { db in try db.execute("SELECT 41 + 1 AS v").first?.int("v") } == 42)
        database.close()
    }

    @Test func aCancelledWriteRollsBackAndLeavesNoTransactionOpen() async throws {
        let database = try Self.database()
        _ = try await database.run { db in try db.execute("CREATE TABLE t (x INTEGER)") }
        let started = Locked(false)
        let call = Task {
            try await database.write { db in
                try db.execute("INSERT INTO t VALUES (1), (2), (3)")
                started.withLock { $0 = true }
                _ = try db.execute(Self.endless)
            }
        }
        try await Self.waitFor(started)
        call.cancel()
        await #expect(throws: CancellationError.self) { try await call.value }
        let after = try await database.run { db in (db.isInTransaction, try db.execute("SELECT COUNT(*) AS n FROM t").first?.int("n")) }
        #expect(after.0 == false && after.1 == 0)
        database.close()
    }

    @Test func noStatementStartsAfterTheCancelEvenBetweenStatements() async throws {
        let database = try Self.database()
        _ = try await database.run { db in try db.execute("CREATE TABLE t (x INTEGER)") }
        let started = Locked(false)
        let proceed = DispatchSemaphore(value: 0)
        let call = Task {
            try await database.write { db in
                started.withLock { $0 = true }
                proceed.wait()  // no statement is running when the cancel arrives
                try db.execute("INSERT INTO t VALUES (1)")
            }
        }
        try await Self.waitFor(started)
        call.cancel()
        try await Task.sleep(for: .milliseconds(20))
        proceed.signal()
        await #expect(throws: CancellationError.self) { try await call.value }
        #expect(try await database.run { db in try db.execute("SELECT COUNT(*) AS n FROM t").first?.int("n") } == 0)
        database.close()
    }

    @Test func aCallCancelledWhileQueuedNeverRuns() async throws {
        let database = try Self.database()
        let release = try await Self.hold(database)
        let ran = Locked(false)
        let queued = Task { try await database.run { _ in ran.withLock { $0 = true } } }
        try await Task.sleep(for: .milliseconds(20))
        queued.cancel()
        release.signal()
        await #expect(throws: CancellationError.self) { try await queued.value }
        #expect(ran.withLock { $0 } == false)
        database.close()
    }

    @Test func aCancelNeverInterruptsTheCallsQueuedBehindIt() async throws {
        let database = try Self.database()
        let started = Locked(false)
        let first = Task {
            try await database.run { db in
                started.withLock { $0 = true }
                return try db.execute(Self.endless).count
            }
        }
        try await Self.waitFor(started)
        // Queued behind the endless call; it must run untouched once that call is interrupted.
        let second = Task { try await database.run { db in try db.execute("SELECT 7 AS v").first?.int("v") } }
        try await Task.sleep(for: .milliseconds(20))
        first.cancel()
        await #expect(throws: CancellationError.self) { try await first.value }
        #expect(try await second.value == 7)
        database.close()
    }

    @Test func waitingCallsSuspendInsteadOfParkingThreads() async throws {
        let database = try Self.database()
        let release = try await Self.hold(database)
        let threadsBefore = Self.threadCount()
        // 1,000 reads wait for the held connection. Parked on Dispatch threads (the bridge this
        // replaced), they took a thread each until Dispatch's pool ran out (255 threads on Linux).
        // The bound leaves room for the threads of other suites running alongside (up to 78 seen).
        let reads = Task {
            try await withThrowingTaskGroup(of: Int?.self) { group in
                for n in 0..<1_000 { group.addTask { try await database.run { db in try db.execute("SELECT ? AS v", [.integer(Int64(n))]).first?.int("v") } } }
                return try await group.reduce(0) { $0 + ($1 ?? 0) }
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        let threadsWaiting = Self.threadCount()
        release.signal()
        #expect(try await reads.value == (0..<1_000).reduce(0, +))
        #expect(threadsWaiting - threadsBefore < 200, "\(threadsWaiting - threadsBefore) threads appeared for 1,000 waiting reads")
        database.close()
    }

    /// Threads of this process now.
    static func threadCount() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 0
    }
}
