import CSQLite

/// An error SQLite returned, with the result code, SQLite's own message, the SQL that was running
/// and what the engine was doing at the time.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    /// The (extended) SQLite result code, e.g. 19 (`SQLITE_CONSTRAINT`) or 5 (`SQLITE_BUSY`).
    public let code: Int32
    /// SQLite's explanation (`sqlite3_errmsg`).
    public let message: String
    /// The statement that failed, if any.
    public let sql: String?
    /// What the engine was doing, e.g. "opening the store at /tmp/x.sqlite".
    public let context: String

    public var description: String {
        var text = "SQLite error \(code) while \(context): \(message)"
        if let sql { text += " [SQL: \(sql.trimmingCharacters(in: .whitespacesAndNewlines))]" }
        return text
    }

    /// `SQLITE_BUSY` or `SQLITE_LOCKED`: another connection holds the lock longer than the busy timeout.
    /// The kind of failure: `code` without its extended detail.
    public var resultCode: ResultCode { ResultCode(extended: code) }

    public var isBusy: Bool { resultCode == .busy || resultCode == .locked }
}

import Foundation
