import Foundation

/// A value bound to or read from an SQLite statement. Values always travel as bound parameters,
/// never spliced into SQL text.
package enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)
}

extension SQLValue {
    package init(_ value: Int) { self = .integer(Int64(value)) }
    package init(_ value: String?) { self = value.map { .text($0) } ?? .null }
    package init(_ value: Int64?) { self = value.map { .integer($0) } ?? .null }
    package init(_ value: Double?) { self = value.map { .real($0) } ?? .null }
}

/// One result row, read by column name.
package struct Row: Sendable {
    let columns: [String: SQLValue]

    package init(columns: [String: SQLValue]) { self.columns = columns }

    package subscript(_ name: String) -> SQLValue { columns[name] ?? .null }

    package func int(_ name: String) -> Int {
        switch self[name] {
        case .integer(let value): return Int(value)
        case .real(let value): return Int(value)
        case .text(let text): return Int(text) ?? 0
        case .null, .blob: return 0
        }
    }

    package func int64(_ name: String) -> Int64? {
        if case .integer(let value) = self[name] { return value }
        return nil
    }

    package func double(_ name: String) -> Double? {
        switch self[name] {
        case .real(let value): return value
        case .integer(let value): return Double(value)
        default: return nil
        }
    }

    package func string(_ name: String) -> String? {
        switch self[name] {
        case .text(let text): return text
        case .blob(let data): return String(decoding: data, as: UTF8.self)
        case .integer(let value): return String(value)
        case .real(let value): return String(value)
        case .null: return nil
        }
    }

    package func data(_ name: String) -> Data? {
        switch self[name] {
        case .blob(let data): return data
        case .text(let text): return Data(text.utf8)
        default: return nil
        }
    }
}
