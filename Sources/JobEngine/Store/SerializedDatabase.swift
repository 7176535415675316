import Dispatch

/// A connection confined to one serial `DispatchQueue`: the only way to reach it is inside
/// `sync { db in … }`, so no two threads ever touch the handle at once.
final class SerializedDatabase: @unchecked Sendable {
    // @unchecked: `connection` is only touched on `queue` (every access goes through `sync`).
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

    func close() {
        queue.sync { connection.close() }
    }
}
