import Foundation
import Yams

extension JobSpec {
    /// Parses and validates a YAML spec: the same fields and rules as ``init(json:)``, every problem
    /// with the line it is on.
    ///
    /// Scalars follow YAML 1.2's core schema, not 1.1's: `yes`, `no`, `on` and `off` stay strings (a
    /// country code `NO` is not `false`), and dates stay strings.
    ///
    /// - Throws: `EngineError` with code `.invalidSpec` listing every problem by field path and line.
    public init(yaml data: Data) throws {
        let (spec, problems) = Self.parse(yaml: data)
        guard let spec, problems.isEmpty else { throw Self.invalid(problems) }
        self = spec
    }

    /// The spec, if it could be read at all, and every problem found, each with its line.
    static func parse(yaml data: Data) -> (JobSpec?, [SpecProblem]) {
        let (spec, problems, _) = parseLocating(yaml: data)
        return (spec, problems)
    }

    /// As `parse(yaml:)`, and what gives a later problem (a component's) its line.
    static func parseLocating(yaml data: Data) -> (JobSpec?, [SpecProblem], @Sendable (SpecProblem) -> SpecProblem) {
        let document = YAMLDocument(data)
        guard let value = document.value else { return (nil, document.problems, { $0 }) }
        let (spec, problems) = read(value)
        return (spec, document.problems + problems.map(document.located), { document.located($0) })
    }
}

/// A YAML spec read into the JSON shape the spec reader takes, remembering the line of every field.
struct YAMLDocument: Sendable {
    private(set) var value: JSONValue?
    private(set) var problems: [SpecProblem] = []
    /// The line of each field path (`retry.max_attempts`, `items[2].name`).
    private var lines: [String: Int] = [:]

    /// YAML 1.2's core schema: booleans are true/false only; integers are decimal (`010` is ten),
    /// `0o` octal or `0x` hex, never sexagesimal (`12:30` is a string); no timestamps, no merge keys.
    private static let resolver: Resolver = {
        var resolver = Resolver.default.removing(.timestamp).removing(.merge).removing(.value)
        let core = [
            try? Resolver.Rule(.bool, "^(?:true|True|TRUE|false|False|FALSE)$"),
            try? Resolver.Rule(.int, "^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
            try? Resolver.Rule(.float, "^(?:[-+]?(?:\\.[0-9]+|[0-9]+(?:\\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN))$"),
        ]
        for rule in core.compactMap({ $0 }) { resolver = resolver.replacing(rule) }
        return resolver
    }()

    /// More nodes than any spec needs: aliases that expand past it (a "billion laughs" file) stop here.
    static let defaultMaxNodes = 1_000_000
    private let maxNodes: Int
    private var nodes = 0

    init(_ data: Data, maxNodes: Int = YAMLDocument.defaultMaxNodes) {
        self.maxNodes = maxNodes
        guard let text = String(data: data, encoding: .utf8) else {
            problems = [SpecProblem(field: "(root)", message: "the YAML spec is not UTF-8 text")]
            return
        }
        do {
            guard let root = try Yams.compose(yaml: text, Self.resolver) else {
                problems = [SpecProblem(field: "(root)", message: "the YAML document is empty: it must be a mapping of the spec's fields")]
                return
            }
            value = convert(root, path: "")
        } catch let error as YamlError {
            problems = [Self.syntaxProblem(error)]
        } catch {
            problems = [SpecProblem(field: "(root)", message: "not valid YAML: \(error)")]
        }
    }

    /// `problem` with the line of its field, or of the nearest enclosing field that has one.
    func located(_ problem: SpecProblem) -> SpecProblem {
        var path = problem.field
        while !path.isEmpty {
            if let line = lines[path] { return SpecProblem(field: problem.field, message: problem.message, line: line) }
            guard let cut = path.lastIndex(where: { $0 == "." || $0 == "[" }) else { break }
            path = String(path[..<cut])
        }
        return problem
    }

    private mutating func convert(_ node: Node, path: String) -> JSONValue {
        nodes += 1
        if nodes == maxNodes {
            problems.append(SpecProblem(field: "(root)", message: "has more than \(maxNodes) values (aliases expanding without end?)"))
        }
        guard nodes < maxNodes else { return .null }
        if let line = node.mark?.line, lines[path] == nil { lines[path] = line }
        switch node {
        case .scalar(let scalar):
            switch Self.resolver.resolveTag(of: node) {
            case .null: return .null
            case .bool: return .bool(["true", "True", "TRUE"].contains(scalar.string))
            case .int, .float: return number(scalar.string, path: path, line: node.mark?.line)
            default: return .string(scalar.string)
            }
        case .sequence(let sequence):
            return .array(sequence.enumerated().map { index, element in convert(element, path: "\(path)[\(index)]") })
        case .mapping(let mapping):
            // Duplicate keys never get here: compose refuses them (`syntaxProblem`).
            var object: [String: JSONValue] = [:]
            for (key, element) in mapping {
                guard case .scalar(let scalar) = key else {
                    problems.append(SpecProblem(field: path.isEmpty ? "(root)" : path,
                                                message: "has a key that is not a plain name (a list or mapping used as a key)",
                                                line: key.mark?.line))
                    continue
                }
                let name = scalar.string
                let field = path.isEmpty ? name : "\(path).\(name)"
                if let line = key.mark?.line { lines[field] = line }
                object[name] = convert(element, path: field)
            }
            return .object(object)
        case .alias:
            // compose resolves aliases; one left over names an anchor that does not exist.
            problems.append(SpecProblem(field: path.isEmpty ? "(root)" : path, message: "is an alias of no anchor", line: node.mark?.line))
            return .null
        }
    }

    /// A number as JSON holds it (a Double); infinity and NaN, which JSON cannot hold, are problems.
    private mutating func number(_ text: String, path: String, line: Int?) -> JSONValue {
        let value: Double?
        if text.hasPrefix("0o") {
            value = Int(text.dropFirst(2), radix: 8).map(Double.init)
        } else if text.hasPrefix("0x") {
            value = Int(text.dropFirst(2), radix: 16).map(Double.init)
        } else {
            value = Double(text.hasSuffix(".") ? text + "0" : text)
        }
        guard let value, value.isFinite else {
            problems.append(SpecProblem(field: path.isEmpty ? "(root)" : path,
                                        message: "\(text) is not a finite number JSON can hold; write a finite number or quote it as text",
                                        line: line))
            return .null
        }
        return .number(value)
    }

    private static func syntaxProblem(_ error: YamlError) -> SpecProblem {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return SpecProblem(field: "(root)", message: "not valid YAML: \(problem) (line \(mark.line), column \(mark.column))",
                               line: mark.line)
        case .duplicatedKeysInMapping(let duplicates, let context):
            return SpecProblem(field: duplicates.sorted().joined(separator: ", "),
                               message: "appears twice in the mapping that starts on line \(context.mark.line); keep one",
                               line: context.mark.line)
        default:
            return SpecProblem(field: "(root)", message: "not valid YAML: \(error)")
        }
    }
}
