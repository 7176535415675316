import Foundation

extension JSONValue {
    /// Parses JSON text. Faster than `JSONDecoder` for large documents (a job's stored spec with
    /// 100,000 items): `Decodable`'s trial decoding of each alternative throws and discards an
    /// error per value, `JSONSerialization` reads each value once.
    public static func parse(_ data: Data) throws -> JSONValue {
        try JSONValue(any: JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]))
    }

    private init(any value: Any) throws {
        // Swift's own types first: asking whether a dictionary is an `NSNumber` bridged the whole
        // dictionary to an `NSDictionary` to find out (13 % of a large submit's time, perf).
        switch value {
        case let object as [String: Any]:
            self = .object(try object.mapValues(JSONValue.init(any:)))
        case let string as String:
            self = .string(string)
        case let array as [Any]:
            self = .array(try array.map(JSONValue.init(any:)))
        case let number as NSNumber:
            // JSONSerialization gives booleans as NSNumber too; only they have the C type "c" (char).
            if String(cString: number.objCType) == "c" {
                self = .bool(number.boolValue)
            } else {
                self = .number(number.doubleValue)
            }
        case is NSNull:
            self = .null
        default:
            throw EngineError(.invalidSpec, "unexpected JSON value of type \(type(of: value))")
        }
    }
}
