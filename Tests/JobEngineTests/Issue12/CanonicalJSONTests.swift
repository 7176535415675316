import Foundation
import Testing

@testable import JobEngine

/// `JSONValue.canonicalJSON` writes what `JSONEncoder` (sorted keys, slashes unescaped) writes, byte
/// for byte: parameter fingerprints stored by earlier engines were computed from the encoder's bytes.
@Suite struct CanonicalJSONTests {
    static let values: [JSONValue] = [
        .null, true, false, 0, -1, 42, 1e14, -123_456_789, 0.1, 1.5, -2.25, 1e20, 1e-7, 123_456_789.125, 3.0e15,
        "", "plain", "a\"b\\c/d\n\t\r\u{8}\u{c}\u{1}\u{1f}\u{7f}é😀\u{2028}", "https://example.com/a?b=c&d=e#f",
        [], [1, "two", [3], ["four": 4]],
        ["b": 1, "a": 2, "B": 3, "a1": 4, "a10": 5, "a2": 6, "é": 7, "Z": 8, "_": 9, "aB": 10, "ab": 11, "😀": 12, "Ä": 14],
        ["url": "https://example.com/page/1", "depth": 2, "tags": ["x", "y"], "nested": ["k": ["deep": [true, .null]]]],
    ]

    @Test(arguments: values)
    func canonicalJSONIsWhatJSONEncoderWrites(value: JSONValue) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        #expect(String(decoding: value.canonicalJSON(), as: UTF8.self) == String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    @Test func aFingerprintIsTheHashOfTheWholeCanonicalObject() {
        let spec = makeSpec(items: ["a"])
        let params: [String: JSONValue] = ["query": "swift \"6\"", "n": 3]
        let whole: JSONValue = [
            "collector": .object(spec.collector.options.merging(["type": .string(spec.collector.type)]) { a, _ in a }),
            "ingester": .object(spec.ingester.options.merging(["type": .string(spec.ingester.type)]) { a, _ in a }),
            "params": .object(params), "base_directory": "/srv/jobs",
        ]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let expected = SHA256Hex.of(try! encoder.encode(whole))
        #expect(ParameterFingerprint(spec: spec, baseDirectory: "/srv/jobs").of(params) == expected)
    }
}

import Crypto

enum SHA256Hex {
    static func of(_ data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }
}
