import Crypto
import Foundation
import JobEngine

/// A snapshot's inputs in a form that compares equal however the vendor hands them back: each
/// input an object of strings (numbers and booleans as their JSON text, nested values as canonical
/// JSON, empty and null values left out). `GET /datasets/v3/snapshot/{id}/input` may answer JSON
/// or CSV (a header row, then a row per input, every value a string); the trigger intent's hash is
/// taken over this form, so either answer matches the inputs that were sent.
enum SnapshotInputs {
    /// The SHA-256 (hex) of `inputs` in the comparable form.
    static func digest(_ inputs: [JSONValue]) -> String {
        digest(rows: inputs.map { input -> [String: String] in
            guard case .object(let object) = input else { return ["": text(input)] }
            return object.compactMapValues { value in
                let text = text(value)
                return text.isEmpty ? nil : text
            }
        })
    }

    /// The digest of a vendor's answer: a JSON array of inputs, or CSV; nil when it is neither.
    static func digest(answer body: Data) -> String? {
        if case .array(let inputs)? = try? JSONValue.parse(body) { return digest(inputs) }
        guard let rows = CSV.rows(String(decoding: body, as: UTF8.self)), let header = rows.first else { return nil }
        return digest(rows: rows.dropFirst().filter { !($0.count == 1 && $0[0].isEmpty) }.map { row in
            var object: [String: String] = [:]
            for (column, value) in zip(header, row) where !value.isEmpty { object[column] = value }
            return object
        })
    }

    private static func digest(rows: [[String: String]]) -> String {
        let canonical = JSONValue.array(rows.map { .object($0.mapValues(JSONValue.string)) }).canonicalJSON()
        return SHA256.hash(data: canonical).map { String(format: "%02x", $0) }.joined()
    }

    private static func text(_ value: JSONValue) -> String {
        switch value {
        case .null: return ""
        case .string(let string): return string
        default: return String(decoding: value.canonicalJSON(), as: UTF8.self)
        }
    }
}

/// RFC 4180 CSV: fields separated by commas, rows by CRLF or LF; a quoted field may hold commas,
/// newlines and doubled quotes.
enum CSV {
    /// The rows of `text`; nil when a quoted field never ends.
    static func rows(_ text: String) -> [[String]]? {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var characters = text.makeIterator()
        var pending: Character? = nil
        func next() -> Character? {
            if let character = pending { pending = nil; return character }
            return characters.next()
        }
        while let character = next() {
            if quoted {
                if character == "\"" {
                    if let following = next() {
                        if following == "\"" { field.append("\"") } else { quoted = false; pending = following }
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(character)
                }
                continue
            }
            switch character {
            case "\"" where field.isEmpty: quoted = true
            case ",": row.append(field); field = ""
            case "\n", "\r\n", "\r":
                row.append(field)
                rows.append(row)
                (row, field) = ([], "")
            default: field.append(character)
            }
        }
        if quoted { return nil }
        if !field.isEmpty || !row.isEmpty { rows.append(row + [field]) }
        return rows
    }
}
