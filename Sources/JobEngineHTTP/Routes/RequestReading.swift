import Foundation
import Hummingbird
import JobEngine

/// Reading path and query parameters, each failure a 400 that names the parameter and says what
/// would be right.
extension Request {
    func query(_ name: String) -> String? {
        uri.queryParameters.get(name)
    }

    func enumQuery<T: RawRepresentable & CaseIterable>(_ name: String, as type: T.Type) throws -> T? where T.RawValue == String {
        guard let raw = query(name) else { return nil }
        guard let value = T(rawValue: raw) else {
            throw APIError.badRequest("invalid_parameter",
                                      "query parameter \(name)=\(raw) is not valid: use one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    func boolQuery(_ name: String) throws -> Bool {
        switch query(name)?.lowercased() {
        case nil, "false", "0": return false
        case "true", "1": return true
        case let other?: throw APIError.badRequest("invalid_parameter", "query parameter \(name)=\(other) is not valid: use true or false")
        }
    }

    func intQuery(_ name: String, default defaultValue: Int, range: ClosedRange<Int>) throws -> Int {
        guard let raw = query(name) else { return defaultValue }
        guard let value = Int(raw), range.contains(value) else {
            throw APIError.badRequest("invalid_parameter",
                                      "query parameter \(name)=\(raw) is not valid: use a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }
}

extension RequestContext {
    /// The UUID in path parameter `name`; 400 when it is not one.
    func uuidParameter(_ name: String, describing what: String) throws -> UUID {
        let raw = parameters.get(name) ?? ""
        guard let id = UUID(uuidString: raw) else {
            throw APIError.badRequest("invalid_id", "'\(raw)' is not a \(what) id: expected a UUID like 3f2b6c1e-8a4d-4e7f-9b0a-1c2d3e4f5a6b")
        }
        return id
    }
}

/// The `cursor` of a work-item listing: the spec position to continue after, in decimal. Clients
/// pass `next_cursor` back unchanged. Any cursor the schema allows (`^[0-9]{1,15}$`) is one this API
/// could have given, so a well-formed cursor never gets a 400 (schemathesis checks exactly that).
enum PageCursor {
    static func encode(_ position: Int) -> String {
        String(position)
    }

    static func decode(_ cursor: String?) throws -> Int? {
        guard let cursor else { return nil }
        guard (1...15).contains(cursor.count), cursor.allSatisfy(\.isASCII), cursor.allSatisfy(\.isNumber),
              let position = Int(cursor)
        else {
            throw APIError.badRequest("invalid_cursor", "cursor '\(cursor)' is not one this API gave: pass next_cursor from the previous page unchanged")
        }
        return position
    }
}
