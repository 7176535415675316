import CSQLite
import Dispatch

/// A connection confined to one serial `DispatchQueue`: the only way to reach it is inside
/// `sync { db in … }` (from a thread that may block: the scheduler's slot threads) or
/// `run { db in … }` (from async code), so no two threads ever touch the handle at once.
final class SerializedDatabase: @unchecked Sendable {
    // @unchecked: `connection` is only touched on `queue` (every access goes through `sync` or
    // `run`), except `interrupt()`, which SQLite allows from any thread while the connection is open.
    private let connection: Connection
    private let queue: DispatchQueue

    init(label: String, _ open: () throws -> Connection) rethrows {
        connection = try open()
        queue = DispatchQueue(label: label)
    }

    /// Runs `body` with the connection, on its queue. Calling it from inside another `sync` of the
    /// same connection would wait for itself for ever: that is caught here, in every build.
    @discardableResult
    func sync<T>(_ body: (Connection) throws -> T) rethrows -> T {
        dispatchPrecondition(condition: .notOnQueue(queue))
        return try queue.sync { try body(connection) }
    }

    /// Runs `body` in one transaction on this connection.
    @discardableResult
    func write<T>(_ body: (Connection) throws -> T) throws -> T {
        try sync { connection in try connection.inTransaction { try body(connection) } }
    }

    /// Runs `body` in one transaction on this connection, from async code (see `run`).
    func write<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await run { connection in try connection.inTransaction { try body(connection) } }
    }

    /// Runs `body` with the connection on its queue and resumes the caller from there: one hop, and
    /// no thread waits for the queue (an async caller is suspended, not parked).
    ///
    /// Cancelling the calling task before `body` starts means it never runs; cancelling it while
    /// `body` runs interrupts `body`'s statements (`sqlite3_interrupt`; a write's transaction rolls
    /// back) and no later statement of `body` starts. Either way the call throws `CancellationError`.
    /// Only this call's own `body` is ever interrupted, never the work queued before or after it.
    /// A `body` that finished despite a cancel returns its result: a committed write is reported.
    func run<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        let call = Locked(CallState.queued)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                queue.async { [self] in
                    let starts = call.withLock { state -> Bool in
                        guard state == .queued else { return false }
                        state = .running
                        return true
                    }
                    guard starts else { return continuation.resume(throwing: CancellationError()) }
                    connection.cancellation = { call.withLock { $0 == .interrupted } }
                    let result = Result { try body(connection) }
                    connection.cancellation = nil
                    // From here on a cancel has nothing left to interrupt.
                    let interrupted = call.withLock { state in
                        defer { state = .finished }
                        return state == .interrupted
                    }
                    if interrupted, case .failure(let error as SQLiteError) = result, error.resultCode == .interrupt {
                        return continuation.resume(throwing: CancellationError())
                    }
                    continuation.resume(with: result)
                }
            }
        } onCancel: {
            call.withLock { state in
                switch state {
                case .queued:
                    state = .cancelled
                case .running:
                    // Under the lock that `body`'s end takes, so the connection is open and still
                    // running this call's statements.
                    state = .interrupted
                    self.connection.interrupt()
                case .cancelled, .interrupted, .finished:
                    break
                }
            }
        }
    }

    /// Where one `run` call is.
    private enum CallState {
        case queued, cancelled, running, interrupted, finished
    }

    func close() {
        queue.sync { connection.close() }
    }
}
