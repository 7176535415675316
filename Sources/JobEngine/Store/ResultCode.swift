import CSQLite

/// SQLite's primary result code of an error: what kind of failure it was, without the extended
/// detail (`SQLITE_IOERR_WRITE` is `.ioError`). "The least significant 8 bits … are the primary
/// result code" (sqlite.org/rescode.html).
public struct ResultCode: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int32

    /// The primary code of an extended result code.
    public init(extended code: Int32) {
        rawValue = code & 0xff
    }

    public static let busy = ResultCode(extended: SQLITE_BUSY)
    public static let locked = ResultCode(extended: SQLITE_LOCKED)
    public static let full = ResultCode(extended: SQLITE_FULL)
    public static let ioError = ResultCode(extended: SQLITE_IOERR)
    public static let readOnly = ResultCode(extended: SQLITE_READONLY)
    public static let cannotOpen = ResultCode(extended: SQLITE_CANTOPEN)
    public static let misuse = ResultCode(extended: SQLITE_MISUSE)
    public static let notADatabase = ResultCode(extended: SQLITE_NOTADB)
    public static let interrupt = ResultCode(extended: SQLITE_INTERRUPT)
    public static let corrupt = ResultCode(extended: SQLITE_CORRUPT)

    public var description: String { String(cString: sqlite3_errstr(rawValue)) }
}
