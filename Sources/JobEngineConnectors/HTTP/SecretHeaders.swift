import Foundation
import JobEngine

/// Request headers (or a program's environment) from a spec: `{"Accept": "application/json", "Authorization": {"env": "API_TOKEN"}}`.
/// A value given as `{"env": NAME}` is read from that environment variable when the component is
/// made, never stored, and scrubbed from every error text; the spec (and so the store) holds only
/// the variable's name.
struct SecretHeaders: Sendable {
    private let literal: [(name: String, value: String)]
    private let fromEnvironment: [(name: String, variable: String)]

    /// Reads the object at `key` (`headers`, or a command's `env`).
    init(_ reader: FieldReader, key: String = "headers") {
        var literal: [(String, String)] = []
        var fromEnvironment: [(String, String)] = []
        for (name, value) in (reader.object(key, required: false) ?? [:]).sorted(by: { $0.key < $1.key }) {
            switch value {
            case .string(let text):
                literal.append((name, text))
            case .object(let object) where object.count == 1:
                if case .string(let variable)? = object["env"], !variable.isEmpty {
                    fromEnvironment.append((name, variable))
                } else {
                    fallthrough
                }
            default:
                reader.report(key, "\"\(name)\" must be a string or {\"env\": \"VARIABLE\"} (for a secret), got \(value.typeName)")
            }
        }
        self.literal = literal
        self.fromEnvironment = fromEnvironment
    }

    /// The headers with the secrets read, and the secrets.
    ///
    /// - Throws: a permanent `PhaseError` naming a variable that is not set.
    func resolve(component: String) throws -> (headers: [(name: String, value: String)], secrets: [String]) {
        var headers = literal
        var secrets: [String] = []
        for (name, variable) in fromEnvironment {
            guard let value = ProcessEnvironment.value(variable), !value.isEmpty else {
                throw PhaseError.permanent("\(component): the environment variable \(variable) (for \(name)) is not set")
            }
            headers.append((name, value))
            secrets.append(value)
            // "Bearer <token>": the token alone is the secret too.
            if let space = value.firstIndex(of: " ") { secrets.append(String(value[value.index(after: space)...])) }
        }
        return (headers, secrets)
    }
}
