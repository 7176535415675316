/// One problem in a job spec, located by its field path, e.g. `items[1].name: missing`.
public struct SpecProblem: Sendable, Equatable, CustomStringConvertible {
    /// The field path: `collector.page_size`, `items[1].name`, or `(root)` for the document itself.
    public let field: String
    /// What is wrong and, where it helps, what would be right.
    public let message: String
    /// The line of a YAML spec the field is on; nil for JSON specs and fields that are missing.
    public let line: Int?

    public init(field: String, message: String, line: Int? = nil) {
        self.field = field
        self.message = message
        self.line = line
    }

    public var description: String { line.map { "line \($0): \(field): \(message)" } ?? "\(field): \(message)" }
}
