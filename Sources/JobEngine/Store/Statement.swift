import CSQLite
import Foundation

/// A prepared statement. It owns its `sqlite3_stmt*` and finalizes it in `deinit`; it never leaves
/// the connection that prepared it.
final class Statement {
    let sql: String
    private let handle: OpaquePointer
    private unowned let connection: Connection

    init(sql: String, connection: Connection) throws {
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v3(
            connection.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard code == SQLITE_OK, let statement else {
            throw connection.error(code: code, sql: sql, context: "preparing a statement")
        }
        self.sql = sql
        self.handle = statement
        self.connection = connection
    }

    deinit {
        sqlite3_finalize(handle)
    }

    /// Runs the statement with `arguments` and returns every row it produces.
    func run(_ arguments: [SQLValue]) throws -> [Row] {
        defer {
            // Reset so a cached statement releases its read lock and is ready for the next call.
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        try bind(arguments)
        var rows: [Row] = []
        while true {
            let code = sqlite3_step(handle)
            switch code {
            case SQLITE_ROW:
                rows.append(readRow())
            case SQLITE_DONE:
                return rows
            case let code:
                throw connection.error(code: code, sql: sql, context: "running a statement")
            }
        }
    }

    /// Runs the statement and maps each row by column index, without building a dictionary per
    /// row: for the hot read of staged documents.
    func map<T>(_ arguments: [SQLValue], _ transform: (ColumnReader) -> T) throws -> [T] {
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        try bind(arguments)
        var results: [T] = []
        let reader = ColumnReader(handle: handle)
        while true {
            switch sqlite3_step(handle) {
            case SQLITE_ROW:
                results.append(transform(reader))
            case SQLITE_DONE:
                return results
            case let code:
                throw connection.error(code: code, sql: sql, context: "running a statement")
            }
        }
    }

    private func bind(_ arguments: [SQLValue]) throws {
        let expected = Int(sqlite3_bind_parameter_count(handle))
        // A count mismatch is our own bug (the SQL and its arguments are written side by side).
        precondition(expected == arguments.count, "SQL expects \(expected) arguments, got \(arguments.count): \(sql)")
        for (offset, value) in arguments.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch value {
            case .null:
                code = sqlite3_bind_null(handle, index)
            case .integer(let int):
                code = sqlite3_bind_int64(handle, index, int)
            case .real(let double):
                code = sqlite3_bind_double(handle, index, double)
            case .text(var text):
                // withUTF8 reads a native string's bytes in place (utf8CString would copy them first);
                // SQLite copies them itself (SQLITE_TRANSIENT).
                code = text.withUTF8 { buffer in
                    buffer.withMemoryRebound(to: CChar.self) { chars in
                        // An empty string must bind as '' rather than NULL, which needs a non-nil pointer.
                        guard let base = chars.baseAddress else { return "".withCString { jobengine_bind_text(handle, index, $0, 0) } }
                        return jobengine_bind_text(handle, index, base, Int32(chars.count))
                    }
                }
            case .blob(let data):
                code = data.withUnsafeBytes { buffer in
                    // A zero-length blob must still bind as a blob, not NULL: pass a non-nil pointer.
                    jobengine_bind_blob(handle, index, buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(buffer.count))
                }
            }
            guard code == SQLITE_OK else {
                throw connection.error(code: code, sql: sql, context: "binding argument \(index)")
            }
        }
    }

    /// A text column with its length: "sqlite3_column_text() … then sqlite3_column_bytes() to find
    /// the size of the result" (sqlite.org/c3ref/column_blob.html). Read as a C string, a value with
    /// a NUL in it would end there, and two different names would print alike.
    static func text(_ handle: OpaquePointer, _ column: Int32) -> String {
        guard let text = sqlite3_column_text(handle, column) else { return "" }
        let length = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: text, count: length), as: UTF8.self)
    }

    private func readRow() -> Row {
        var columns: [String: SQLValue] = [:]
        let count = sqlite3_column_count(handle)
        columns.reserveCapacity(Int(count))
        for index in 0..<count {
            let name = String(cString: sqlite3_column_name(handle, index))
            switch sqlite3_column_type(handle, index) {
            case SQLITE_INTEGER:
                columns[name] = .integer(sqlite3_column_int64(handle, index))
            case SQLITE_FLOAT:
                columns[name] = .real(sqlite3_column_double(handle, index))
            case SQLITE_TEXT:
                columns[name] = .text(Self.text(handle, index))
            case SQLITE_BLOB:
                let length = Int(sqlite3_column_bytes(handle, index))
                if let bytes = sqlite3_column_blob(handle, index), length > 0 {
                    columns[name] = .blob(Data(bytes: bytes, count: length))
                } else {
                    columns[name] = .blob(Data())
                }
            default:
                columns[name] = .null
            }
        }
        return Row(columns: columns)
    }
}

@available(*, unavailable)
extension Statement: Sendable {}

/// The current row of a statement, read by column index; valid only inside `Statement.map`.
struct ColumnReader {
    fileprivate let handle: OpaquePointer

    func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(handle, column)) }

    func text(_ column: Int32) -> String {
        Statement.text(handle, column)
    }

    func data(_ column: Int32) -> Data {
        let length = Int(sqlite3_column_bytes(handle, column))
        guard length > 0, let bytes = sqlite3_column_blob(handle, column) else { return Data() }
        return Data(bytes: bytes, count: length)
    }
}
