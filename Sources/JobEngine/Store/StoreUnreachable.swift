/// The store could not be reached (the connection to a PostgreSQL server broke, or the server is
/// restarting): like lock contention, it passes, and what was asked is asked again. Every write the
/// store makes is conditioned on the lease and idempotent, so one whose COMMIT's answer was lost
/// (it may have happened) is safe to redo.
package struct StoreUnreachable: Error, CustomStringConvertible {
    package let reason: String

    package init(_ reason: String) {
        self.reason = reason
    }

    package var description: String { "the store cannot be reached: \(reason)" }
}

extension Error {
    /// Whether the failure passes by itself, so the same write is tried again after a wait: lock
    /// contention on SQLite, an unreachable PostgreSQL server.
    var storeFailurePasses: Bool {
        (self as? SQLiteError)?.isBusy == true || self is StoreUnreachable
    }
}
