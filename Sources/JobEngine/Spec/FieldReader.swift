/// Reads the fields of one JSON object while collecting every problem with its field path, so a
/// user fixing a spec sees all of them at once instead of one per attempt.
public final class FieldReader {
    /// The path of this object, e.g. `collector` or `items[2]`; empty for the root.
    public let path: String
    private let object: [String: JSONValue]
    private var seen: Set<String> = []
    private let problems: ProblemList

    init(object: [String: JSONValue], path: String, problems: ProblemList) {
        self.object = object
        self.path = path
        self.problems = problems
    }

    /// A reader for component options, e.g. a custom collector's, reporting under `path`.
    public convenience init(options: [String: JSONValue], path: String) {
        self.init(object: options, path: path, problems: ProblemList())
    }

    /// Every problem found so far by this reader and the readers made from it.
    public var allProblems: [SpecProblem] { problems.items }

    func fieldPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// Records a problem at `key` of this object (or at the object itself when `key` is nil).
    public func report(_ key: String?, _ message: String) {
        problems.items.append(SpecProblem(field: key.map(fieldPath) ?? (path.isEmpty ? "(root)" : path),
                                          message: message))
    }

    func raw(_ key: String) -> JSONValue? {
        seen.insert(key)
        guard let value = object[key], value != .null else { return nil }
        return value
    }

    public func string(_ key: String, required: Bool = true) -> String? {
        guard let value = raw(key) else {
            if required { report(key, "missing") }
            return nil
        }
        guard case .string(let string) = value else {
            report(key, "must be a string, got \(value.typeName)")
            return nil
        }
        if required && string.isEmpty { report(key, "must not be empty") }
        return string
    }

    /// An integer within `range`; `defaultValue` when absent (absent and no default: "missing").
    public func int(_ key: String, default defaultValue: Int? = nil, in range: ClosedRange<Int>) -> Int? {
        guard let value = raw(key) else {
            if defaultValue == nil { report(key, "missing") }
            return defaultValue
        }
        guard case .number(let number) = value, number.rounded() == number else {
            report(key, "must be a whole number, got \(value.typeName == "a number" ? "a fraction" : value.typeName)")
            return nil
        }
        guard abs(number) < 1e15 else {
            report(key, number > 0 ? "is too large: must be <= \(range.upperBound)" : "is too small: must be >= \(range.lowerBound)")
            return nil
        }
        let int = Int(number)
        guard range.contains(int) else {
            if int > range.upperBound {
                report(key, "must be <= \(range.upperBound)")
            } else {
                report(key, range.lowerBound == 1 ? "must be > 0" : "must be >= \(range.lowerBound)")
            }
            return nil
        }
        return int
    }

    /// A number (fractions allowed) within `range`; `defaultValue` when absent (absent and no
    /// default: "missing").
    public func number(_ key: String, default defaultValue: Double? = nil, in range: ClosedRange<Double>) -> Double? {
        guard let value = raw(key) else {
            if defaultValue == nil { report(key, "missing") }
            return defaultValue
        }
        guard case .number(let number) = value else {
            report(key, "must be a number, got \(value.typeName)")
            return nil
        }
        guard range.contains(number) else {
            report(key, "must be between \(Self.format(range.lowerBound)) and \(Self.format(range.upperBound)), got \(Self.format(number))")
            return nil
        }
        return number
    }

    /// A boolean; `defaultValue` when absent.
    public func bool(_ key: String, default defaultValue: Bool) -> Bool {
        guard let value = raw(key) else { return defaultValue }
        guard case .bool(let bool) = value else {
            report(key, "must be true or false, got \(value.typeName)")
            return defaultValue
        }
        return bool
    }

    private static func format(_ number: Double) -> String {
        number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
    }

    /// One of an enum's raw values.
    public func choice<T: RawRepresentable & CaseIterable>(_ key: String, default defaultValue: T) -> T
    where T.RawValue == String {
        guard let value = raw(key) else { return defaultValue }
        guard case .string(let string) = value, let choice = T(rawValue: string) else {
            let allowed = T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            report(key, "must be one of \(allowed), got \(Self.describe(value))")
            return defaultValue
        }
        return choice
    }

    public func object(_ key: String, required: Bool = true) -> [String: JSONValue]? {
        guard let value = raw(key) else {
            if required { report(key, "missing") }
            return nil
        }
        guard case .object(let object) = value else {
            report(key, "must be an object, got \(value.typeName)")
            return nil
        }
        return object
    }

    public func array(_ key: String, required: Bool = true) -> [JSONValue]? {
        guard let value = raw(key) else {
            if required { report(key, "missing") }
            return nil
        }
        guard case .array(let array) = value else {
            report(key, "must be an array, got \(value.typeName)")
            return nil
        }
        return array
    }

    /// A reader for the nested object at `key`; its problems are this reader's.
    public func nested(_ key: String, required: Bool = true) -> FieldReader? {
        object(key, required: required).map { FieldReader(object: $0, path: fieldPath(key), problems: problems) }
    }

    /// A reader for the object at `index` of an array field `key`.
    func element(_ value: JSONValue, of key: String, at index: Int) -> FieldReader? {
        let elementPath = "\(fieldPath(key))[\(index)]"
        guard case .object(let object) = value else {
            problems.items.append(SpecProblem(field: elementPath, message: "must be an object, got \(value.typeName)"))
            return nil
        }
        return FieldReader(object: object, path: elementPath, problems: problems)
    }

    /// Reports every key that no reader asked for; call last. `allowed` adds keys read elsewhere.
    public func rejectUnknownKeys(allowed: Set<String> = []) {
        for key in object.keys.sorted() where !seen.contains(key) && !allowed.contains(key) {
            let known = seen.union(allowed).sorted().joined(separator: ", ")
            report(key, "unknown key (known keys: \(known))")
        }
    }

    private static func describe(_ value: JSONValue) -> String {
        if case .string(let string) = value { return "\"\(string)\"" }
        return value.typeName
    }
}

/// The shared, growing list of problems behind a tree of readers.
final class ProblemList {
    var items: [SpecProblem] = []
}

@available(*, unavailable)
extension FieldReader: Sendable {}
