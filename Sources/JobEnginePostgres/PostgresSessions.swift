import Foundation
import JobEngine
import Logging
import NIOCore
import NIOPosix
import PostgresNIO

/// The store's connections to PostgreSQL: a bounded set of `PostgresConnection`s, each used by one
/// caller at a time, for one statement or one transaction.
///
/// Why not `PostgresClient`: the store seam is synchronous where the engine's worker threads call
/// it (claims, checkpoints, finishes), and bridging those calls onto an async pool needs a task on
/// Swift's cooperative pool for every statement, which deadlocks once every cooperative thread is
/// blocked in such a call (two threads on these machines: two parallel tests do it). NIO's
/// EventLoopFuture API completes on the event loop's own threads: a worker thread waits on it
/// without depending on the cooperative pool, and async callers are served on a Dispatch thread.
package final class PostgresSessions: Sendable {
    let location: PostgresLocation
    private let group: MultiThreadedEventLoopGroup
    private let logger: Logger
    private let maximum: Int
    private let state = Locked<(idle: [PostgresConnection], open: Int, closed: Bool)>(([], 0, false))
    private let available = NSCondition()

    package init(_ location: PostgresLocation, maximum: Int = 16, logger: Logger) {
        self.location = location
        self.maximum = maximum
        self.logger = logger
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    /// How long a statement or transaction is tried again while the server cannot be reached,
    /// before its caller hears `StoreUnreachable` (the engine's runner then waits on).
    static let reconnectSeconds: Double = 30

    /// Runs `body` with a connection of its own (not on an event loop thread). When the connection
    /// breaks, `body` runs again from its start on another, for up to `reconnectSeconds`: every
    /// transaction of the store is conditioned on what it read and idempotent, so one whose
    /// COMMIT's answer was lost (it may have happened) is safe to redo.
    package func withSession<T>(retrying: Bool = true, _ body: (PostgresSession) throws -> T) throws -> T {
        let deadline = Date().addingTimeInterval(retrying ? Self.reconnectSeconds : 0)
        var wait = 0.05
        while true {
            do {
                return try once(body)
            } catch let error as StoreUnreachable {
                guard Date() < deadline, !state.withLock({ $0.closed }) else { throw error }
                logger.notice("\(error); trying again")
                Thread.sleep(forTimeInterval: wait)
                wait = min(2, wait * 2)
            } catch let error as PSQLError where Self.rolledBackToRetry(error) {
                // The server chose this transaction to break a deadlock (or a serialization
                // conflict) and rolled it back: nothing of it happened, so running it again is clean.
                guard Date() < deadline else { throw error }
                Thread.sleep(forTimeInterval: Double.random(in: 0.005...0.05))
            }
        }
    }

    /// `body` once, on one connection; a connection that broke is dropped and the failure is `StoreUnreachable`.
    private func once<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        let connection = try checkOut()
        var broken = false
        defer { checkIn(connection, broken: broken || connection.isClosed) }
        do {
            return try body(PostgresSession(connection: connection, logger: logger))
        } catch let error as PSQLError where Self.connectionLost(error) {
            broken = true
            throw StoreUnreachable("\(location): \(Self.describe(error))")
        } catch is PostgresSession.ConnectionClosed {
            broken = true
            throw StoreUnreachable("\(location): the connection was closed")
        }
    }

    /// Failures of the connection rather than of the statement: the server went away, restarted
    /// or ended this session (`57P01` admin shutdown, `57P02`, `57P03` cannot connect now).
    static func connectionLost(_ error: PSQLError) -> Bool {
        if [.connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown].contains(error.code) { return true }
        guard let state = error.serverInfo?[.sqlState] else { return false }
        return state.hasPrefix("57P") || state.hasPrefix("08")
    }

    /// A deadlock (`40P01`) or serialization failure (`40001`): the server rolled the transaction back.
    static func rolledBackToRetry(_ error: PSQLError) -> Bool {
        ["40P01", "40001"].contains(error.serverInfo?[.sqlState] ?? "")
    }

    static func describe(_ error: PSQLError) -> String {
        error.serverInfo?[.message] ?? "\(error.code)"
    }

    /// `body` in one transaction: committed when it returns, rolled back when it throws.
    ///
    /// A COMMIT whose answer never came (the connection broke) may or may not have happened:
    /// every transaction the store runs is conditioned (on the lease, the fence, the status it
    /// read), so the caller's retry of it either finds the work done or does it once.
    package func transaction<T>(retrying: Bool = true, _ body: (PostgresSession) throws -> T) throws -> T {
        try withSession(retrying: retrying) { session in try inTransaction(session, body) }
    }

    /// As `transaction`, for one whose answer a redo could not work out again: a submit (its redo
    /// would find the job it created and call it known), a retry (its redo would find its items
    /// pending and start none). The transaction records a token of its own; when the answer to its
    /// COMMIT is lost, the redo looks for the token first and, finding it, returns what the first
    /// run answered instead of running again. Tokens are kept a day.
    package func transactionAnsweredOnce<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        let token = UUID().uuidString.lowercased()
        var answered: T?
        do {
            return try answeredOnce(token: token, answered: &answered, body)
        } catch is AlreadyCommitted {
            guard let answered else { preconditionFailure("a token is recorded only with its answer") }
            return answered
        }
    }

    /// A redo found its token recorded: the first run committed.
    private struct AlreadyCommitted: Error {}

    private func answeredOnce<T>(token: String, answered: inout T?, _ body: (PostgresSession) throws -> T) throws -> T {
        try withSession { session in
            if let answered,
               try !session.execute("SELECT 1 FROM committed_transactions WHERE token = $1", [.text(token)]).isEmpty {
                return answered
            }
            return try inTransaction(session) { db in
                let answer = try body(db)
                // Old tokens go a few at a time, skipping those another transaction is removing.
                try db.execute("""
                    DELETE FROM committed_transactions WHERE token IN (SELECT token FROM committed_transactions
                    WHERE committed_at < \(PostgresStore.now) - 86400 LIMIT 100 FOR UPDATE SKIP LOCKED)
                    """)
                // The token there already: the first run's COMMIT went through after its answer was
                // lost (the server finished it while this redo waited on its locks); this run is undone.
                guard try !db.execute("""
                    INSERT INTO committed_transactions (token, committed_at) VALUES ($1, \(PostgresStore.now))
                    ON CONFLICT (token) DO NOTHING RETURNING token
                    """, [.text(token)]).isEmpty else { throw AlreadyCommitted() }
                answered = answer
                return answer
            }
        }
    }

    /// As `transactionAnsweredOnce`, from async code: run on a Dispatch thread, not the cooperative pool.
    func transactionAnsweredOnce<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        try await offCooperativePool { try self.transactionAnsweredOnce(body) }
    }

    /// `body` between BEGIN and COMMIT on `session`; rolled back when it throws.
    private func inTransaction<T>(_ session: PostgresSession, _ body: (PostgresSession) throws -> T) throws -> T {
        try session.execute("BEGIN")
        let result: T
        do {
            result = try body(session)
            try session.execute("COMMIT")
        } catch {
            _ = try? session.execute("ROLLBACK")
            throw error
        }
        try loseAnswerIfAsked()
        return result
    }

    /// One write statement in its own transaction (autocommit: one round trip), run again, like a
    /// transaction, when its answer is lost.
    package func statement<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        try withSession { session in
            let result = try body(session)
            try loseAnswerIfAsked()
            return result
        }
    }

    /// Tests: this many next commits succeed but their callers hear the connection broke, as when
    /// the server's answer is lost on the way: their transactions and statements run again.
    package let lostCommitAnswers = Locked(0)
    /// Tests: every other commit's answer is lost (each then runs twice: once committed unheard, then its redo).
    package let loseEveryOtherCommitAnswer = Locked<Bool?>(nil)

    private func loseAnswerIfAsked() throws {
        let lose = lostCommitAnswers.withLock { count in
            guard count > 0 else { return false }
            count -= 1
            return true
        } || loseEveryOtherCommitAnswer.withLock { lose in
                guard let now = lose else { return false }
                lose = !now
                return now
            }
        if lose { throw StoreUnreachable("\(location): the answer to COMMIT was lost (a test's fault)") }
    }

    /// As `transaction`, from async code: run on a Dispatch thread, not the cooperative pool.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        try await offCooperativePool { try self.transaction(body) }
    }

    /// As `withSession`, from async code.
    func read<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        try await offCooperativePool { try self.withSession(body) }
    }

    /// `work`, which blocks while it waits for the server, run on a Dispatch thread: the
    /// cooperative pool's few threads must never wait on the server.
    private func offCooperativePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }

    private func checkOut() throws -> PostgresConnection {
        available.lock()
        defer { available.unlock() }
        while true {
            let (taken, mayOpen, closed) = state.withLock { state -> (PostgresConnection?, Bool, Bool) in
                if state.closed { return (nil, false, true) }
                // An idle connection the server ended is dropped here: postgres-nio would take a
                // query on it and never answer it.
                while let connection = state.idle.popLast() {
                    if !connection.isClosed { return (connection, false, false) }
                    state.open -= 1
                }
                if state.open < maximum {
                    state.open += 1
                    return (nil, true, false)
                }
                return (nil, false, false)
            }
            if closed { throw EngineError(.shutDown, "the PostgreSQL store \(location) is closed") }
            if let taken { return taken }
            if mayOpen {
                available.unlock()
                defer { available.lock() }
                do {
                    return try PostgresConnection.connect(on: group.next(), configuration: location.configuration,
                                                          id: Self.nextID.withLock { $0 += 1; return $0 }, logger: logger).wait()
                } catch {
                    state.withLock { $0.open -= 1 }
                    available.signal()
                    throw StoreUnreachable("cannot connect to the PostgreSQL store \(location): \(String(reflecting: error))")
                }
            }
            available.wait()
        }
    }

    private static let nextID = Locked(0)

    private func checkIn(_ connection: PostgresConnection, broken: Bool) {
        available.lock()
        let keep = state.withLock { state -> Bool in
            if broken || state.closed {
                state.open -= 1
                return false
            }
            state.idle.append(connection)
            return true
        }
        available.signal()
        available.unlock()
        // Held until closed: a connection must not go away before its close completes.
        if !keep { connection.close().whenComplete { _ in withExtendedLifetime(connection) {} } }
    }

    /// Connections that wait for notifications (`listen`), closed by `close()`.
    private let listeners = Locked<[PostgresConnection]>([])

    /// Calls `handler` with the payload of each notification on `channel` until `close()`, on a
    /// connection of its own, opened again when it breaks (a notification sent meanwhile is missed:
    /// a worker's poll finds that work).
    func listen(_ channel: String, _ handler: @escaping @Sendable (String) -> Void) {
        Thread.detachNewThread { [self] in
            while !state.withLock({ $0.closed }) {
                do {
                    let connection = try PostgresConnection.connect(on: group.next(), configuration: location.configuration,
                                                                    id: Self.nextID.withLock { $0 += 1; return $0 }, logger: logger).wait()
                    listeners.withLock { $0.append(connection) }
                    connection.addListener(channel: channel) { _, notification in handler(notification.payload) }
                    // The channel is a fixed identifier of the store's, not input.
                    _ = try connection.query(PostgresQuery(unsafeSQL: "LISTEN \(channel)"), logger: logger).wait()
                    while !connection.isClosed && !state.withLock({ $0.closed }) { Thread.sleep(forTimeInterval: 0.2) }
                    listeners.withLock { $0.removeAll { $0 === connection } }
                    if !connection.isClosed { try? connection.close().wait() }
                } catch {
                    logger.notice("listening for work on \(location) failed: \(error); trying again")
                }
                if !state.withLock({ $0.closed }) { Thread.sleep(forTimeInterval: 1) }
            }
        }
    }

    /// A set dropped without `close()` (a test that threw before it) closes its connections here:
    /// postgres-nio stops a debug build on a connection dropped open. Not on an event loop thread,
    /// where waiting for the closes cannot work.
    deinit {
        guard !state.withLock({ $0.closed }), MultiThreadedEventLoopGroup.currentEventLoop == nil else { return }
        close()
    }

    /// Closes every connection; calls after this throw `.shutDown`.
    package func close() {
        let idle = state.withLock { state -> [PostgresConnection] in
            state.closed = true
            defer {
                state.open -= state.idle.count
                state.idle = []
            }
            return state.idle
        }
        for connection in listeners.withLock({ $0 }) { try? connection.close().wait() }
        available.lock()
        available.broadcast()
        available.unlock()
        for connection in idle { try? connection.close().wait() }
        // Connections still checked out are closed as they come back; the event loop they close
        // on must outlive them (a few seconds at most: no statement of the store takes longer).
        let deadline = Date().addingTimeInterval(5)
        while state.withLock({ $0.open > 0 }) && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        try? group.syncShutdownGracefully()
    }
}

/// One connection, for one caller: statements with bound parameters only.
package struct PostgresSession {
    let connection: PostgresConnection
    let logger: Logger

    /// Runs `sql` with `values` bound to `$1`, `$2`, …; the rows, read by column name.
    @discardableResult
    package func execute(_ sql: String, _ values: [SQLValue] = []) throws -> [Row] {
        try run(sql, values).rows.map(Self.row)
    }

    /// Runs `sql`; how many rows it inserted, updated or deleted.
    @discardableResult
    func change(_ sql: String, _ values: [SQLValue] = []) throws -> Int {
        try run(sql, values).metadata.rows ?? 0
    }

    /// Runs `sql` with `bindings` (arrays among them: `unnest` turns them into rows).
    @discardableResult
    package func execute(_ sql: String, bindings: PostgresBindings) throws -> [Row] {
        try answer(PostgresQuery(unsafeSQL: sql, binds: bindings)).rows.map(Self.row)
    }

    private func run(_ sql: String, _ values: [SQLValue]) throws -> PostgresQueryResult {
        try answer(PostgresQuery(unsafeSQL: sql, binds: Self.bindings(values)))
    }

    /// How long a statement's answer is waited for before its connection is taken for broken: far
    /// above any statement of the store (a step of a submit takes well under a second), there only
    /// so that a connection that stopped answering cannot hold a worker forever.
    static let answerTimeout: Double = 300

    /// The answer to `query`; a connection silent for `answerTimeout` is closed and dropped.
    private func answer(_ query: PostgresQuery) throws -> PostgresQueryResult {
        try checkOpen()
        let answered = DispatchSemaphore(value: 0)
        let result = Locked<Result<PostgresQueryResult, any Error>?>(nil)
        connection.query(query, logger: logger).whenComplete { outcome in
            result.withLock { $0 = outcome }
            answered.signal()
        }
        // postgres-nio drops a query written to a connection that closes meanwhile, unanswered:
        // the connection's close ends the wait too.
        connection.closeFuture.whenComplete { _ in answered.signal() }
        guard answered.wait(timeout: .now() + Self.answerTimeout) == .success, let outcome = result.withLock({ $0 }) else {
            connection.close().whenComplete { [connection] _ in withExtendedLifetime(connection) {} }
            throw ConnectionClosed()
        }
        return try outcome.get()
    }

    /// A query on a closed connection is never answered (postgres-nio drops its write): refuse it.
    private func checkOpen() throws {
        if connection.isClosed { throw ConnectionClosed() }
    }

    struct ConnectionClosed: Error {}

    /// `values` as bindings for `$1`, `$2`, …
    static func bindings(_ values: [SQLValue]) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: values.count)
        for value in values {
            switch value {
            case .null: bindings.appendNull()
            case .integer(let number): bindings.append(number)
            case .real(let number): bindings.append(number)
            case .text(let text): bindings.append(text)
            case .blob(let data): bindings.append(ByteBuffer(bytes: data))
            }
        }
        return bindings
    }

    private static func row(_ row: PostgresRow) throws -> Row {
        var columns: [String: SQLValue] = [:]
        for cell in row {
            guard cell.bytes != nil else {
                columns[cell.columnName] = .null
                continue
            }
            switch cell.dataType {
            case .int2, .int4, .int8: columns[cell.columnName] = .integer(try cell.decode(Int64.self))
            case .float4, .float8: columns[cell.columnName] = .real(try cell.decode(Double.self))
            case .numeric: columns[cell.columnName] = .real(NSDecimalNumber(decimal: try cell.decode(Decimal.self)).doubleValue)
            case .bool: columns[cell.columnName] = .integer(try cell.decode(Bool.self) ? 1 : 0)
            case .bytea: columns[cell.columnName] = .blob(Data(try cell.decode(ByteBuffer.self).readableBytesView))
            default: columns[cell.columnName] = .text(try cell.decode(String.self))
            }
        }
        return Row(columns: columns)
    }
}
