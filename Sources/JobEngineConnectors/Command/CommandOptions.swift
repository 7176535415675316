import Foundation
import JobEngine

/// The options of a `command` collector or sink:
/// `{"type": "command", "command": ["python3", "fetch.py", "--fast"], "env": {"REGION": "eu", "API_KEY": {"env": "MY_KEY"}},
///   "timeout_seconds": 300}`.
struct CommandOptions: Sendable {
    let command: [String]
    let environment: SecretHeaders
    let timeoutSeconds: Int

    init(_ reader: FieldReader) {
        let command = reader.array("command") ?? []
        self.command = command.compactMap(\.stringValue)
        if command.isEmpty || self.command.count != command.count || self.command.first?.isEmpty != false {
            reader.report("command", "must be a non-empty array of strings, the program and its arguments, e.g. [\"python3\", \"fetch.py\"]")
        }
        environment = SecretHeaders(reader, key: "env")
        timeoutSeconds = reader.int("timeout_seconds", default: 300, in: 1...86_400) ?? 300
    }

    static let validate: ComponentRegistry.Validator = { reader, _ in
        _ = CommandOptions(reader)
        reader.rejectUnknownKeys()
    }

    /// The item's details for the program: `ENGINE_JOB`, `ENGINE_ITEM`, `ENGINE_ITEM_ID`,
    /// `ENGINE_ATTEMPT`, `ENGINE_PARAMS` (JSON), and the spec's `env`.
    func environment(for item: ItemContext, component: String) throws -> [String: String] {
        var environment = Dictionary(try self.environment.resolve(component: component).headers.map { ($0.name, $0.value) }) { $1 }
        environment["ENGINE_JOB"] = item.jobName
        environment["ENGINE_ITEM"] = item.itemName
        environment["ENGINE_ITEM_ID"] = item.itemID.uuidString.lowercased()
        environment["ENGINE_ATTEMPT"] = String(item.attempt)
        environment["ENGINE_PARAMS"] = String(decoding: JSONValue.object(item.params).canonicalJSON(), as: UTF8.self)
        return environment
    }
}
