import Foundation

/// Finds keys that occur twice in one JSON object. `JSONSerialization` keeps the last silently, so
/// a spec with two `"path"` keys would run with whichever came last: a spec error instead, naming
/// the key. Runs on text the parser already accepted, so it only tracks strings and nesting.
enum DuplicateKeys {
    /// Each duplicate as its field path (`collector.path`, `items[2].name`).
    static func find(in data: Data) -> [String] {
        var duplicates: [String] = []
        // Per open container: its path, and for objects the keys seen and the key being read.
        var stack: [(path: String, isObject: Bool, keys: Set<String>, index: Int)] = []
        var pendingKey: String?
        let bytes = [UInt8](data)
        var index = 0

        func childPath() -> String {
            guard let top = stack.last else { return "" }
            if top.isObject { return top.path.isEmpty ? (pendingKey ?? "") : "\(top.path).\(pendingKey ?? "")" }
            return "\(top.path)[\(top.index)]"
        }

        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                let start = index
                index += 1
                while index < bytes.count && bytes[index] != UInt8(ascii: "\"") {
                    index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                let literal = Data(bytes[start...min(index, bytes.count - 1)])
                // A string right after `{` or `,` inside an object is a key (its `:` follows).
                var next = index + 1
                while next < bytes.count && [0x20, 0x09, 0x0A, 0x0D].contains(bytes[next]) { next += 1 }
                if let top = stack.last, top.isObject, next < bytes.count, bytes[next] == UInt8(ascii: ":") {
                    let key = (try? JSONSerialization.jsonObject(with: literal, options: [.fragmentsAllowed]) as? String) ?? ""
                    pendingKey = key
                    if stack[stack.count - 1].keys.insert(key).inserted == false { duplicates.append(childPath()) }
                }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                stack.append((childPath(), byte == UInt8(ascii: "{"), [], 0))
                pendingKey = nil
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                stack.removeLast()
                pendingKey = nil
            case UInt8(ascii: ","):
                if let top = stack.last, !top.isObject { stack[stack.count - 1].index += 1 }
            default:
                break
            }
            index += 1
        }
        return duplicates
    }
}
