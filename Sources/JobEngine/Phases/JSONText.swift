import Foundation

/// Small JSON writing helpers for the sinks' hot path, where `JSONEncoder` per document would cost
/// more than the write itself.
enum JSONText {
    /// `text` as a JSON string literal, quotes included.
    static func quoted(_ text: String) -> String {
        var output = "\""
        output.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case let control where control.value < 0x20:
                output += String(format: "\\u%04x", control.value)
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output + "\""
    }

    /// The document body as a JSON value on one line: the body itself when it is JSON without line
    /// breaks, re-encoded compactly when it is JSON with line breaks, otherwise a JSON string.
    static func value(of body: Data) -> Data {
        if let first = body.first(where: { $0 != UInt8(ascii: " ") }),
           first == UInt8(ascii: "{") || first == UInt8(ascii: "["),
           let object = try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed])
        {
            if !containsLineBreak(body) { return body }
            if let compact = try? JSONSerialization.data(withJSONObject: object, options: [.fragmentsAllowed]) {
                return compact
            }
        }
        return Data(quoted(String(decoding: body, as: UTF8.self)).utf8)
    }

    /// memchr over the bytes: iterating `Data` element by element costs more than the JSON parse.
    static func containsLineBreak(_ body: Data) -> Bool {
        body.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress, buffer.count > 0 else { return false }
            return memchr(base, 0x0A, buffer.count) != nil || memchr(base, 0x0D, buffer.count) != nil
        }
    }
}
