import Foundation

/// Finds keys that occur twice in one JSON object. `JSONSerialization` keeps the last silently, so
/// a spec with two `"path"` keys would run with whichever came last: a spec error instead, naming
/// the key. Runs on text the parser already accepted, so it only tracks strings and nesting.
///
/// It runs on every line of an items file (a million lines in a large submit), so it reads the
/// bytes in place, decodes a key with the JSON parser only when it holds an escape, and builds a
/// field path only for a duplicate it reports (building every container's path up front, and a
/// parser call per key, were 18 % of a submit's parsing thread, perf).
enum DuplicateKeys {
    /// Where an open container sits in its parent.
    private enum Segment {
        case root
        case key(String)
        case index(Int)
    }

    /// An open container: where it sits, and for an object the keys seen so far.
    private struct Container {
        let segment: Segment
        let isObject: Bool
        /// The first keys in a list (most objects have a few; a set per object was most of this
        /// type's cost on an items file), the rest in a set.
        var firstKeys: [String] = []
        var moreKeys: Set<String> = []
        var count = 0

        /// Adds `key`; false when the object already had it.
        mutating func insert(_ key: String) -> Bool {
            if firstKeys.contains(key) { return false }
            if firstKeys.count < 16 {
                firstKeys.append(key)
                return true
            }
            return moreKeys.insert(key).inserted
        }
    }

    /// Each duplicate as its field path (`collector.path`, `items[2].name`).
    static func find(in data: Data) -> [String] {
        data.withUnsafeBytes { raw in find(in: raw.bindMemory(to: UInt8.self)) }
    }

    private static func find(in bytes: UnsafeBufferPointer<UInt8>) -> [String] {
        var duplicates: [String] = []
        var stack: [Container] = []
        var pendingKey: String?
        var index = 0

        /// Where a value opened now sits in the innermost container.
        func childSegment() -> Segment {
            guard let top = stack.last else { return .root }
            return top.isObject ? .key(pendingKey ?? "") : .index(top.count)
        }

        func path(ending last: Segment) -> String {
            var path = ""
            for segment in stack.map(\.segment) + [last] {
                switch segment {
                case .root: break
                case .key(let key): path += path.isEmpty ? key : ".\(key)"
                case .index(let index): path += "[\(index)]"
                }
            }
            return path
        }

        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                let start = index
                var escaped = false
                index += 1
                while index < bytes.count && bytes[index] != UInt8(ascii: "\"") {
                    if bytes[index] == UInt8(ascii: "\\") { escaped = true; index += 2 } else { index += 1 }
                }
                // A string right after `{` or `,` inside an object is a key (its `:` follows).
                guard let top = stack.last, top.isObject else { break }
                var next = index + 1
                while next < bytes.count, isWhitespace(bytes[next]) { next += 1 }
                guard next < bytes.count, bytes[next] == UInt8(ascii: ":") else { break }
                let end = min(index, bytes.count - 1)
                let key = escaped
                    ? (try? JSONSerialization.jsonObject(with: Data(bytes[start...end]), options: [.fragmentsAllowed]) as? String) ?? ""
                    : String(decoding: UnsafeBufferPointer(rebasing: bytes[(start + 1)..<max(start + 1, end)]), as: UTF8.self)
                pendingKey = key
                if !stack[stack.count - 1].insert(key) { duplicates.append(path(ending: .key(key))) }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                stack.append(Container(segment: childSegment(), isObject: byte == UInt8(ascii: "{")))
                pendingKey = nil
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                stack.removeLast()
                pendingKey = nil
            case UInt8(ascii: ","):
                if let top = stack.last, !top.isObject { stack[stack.count - 1].count += 1 }
            default:
                break
            }
            index += 1
        }
        return duplicates
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }
}
