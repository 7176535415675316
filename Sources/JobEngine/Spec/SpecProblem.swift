/// One problem in a job spec, located by its field path, e.g. `items[1].name: missing`.
public struct SpecProblem: Sendable, Equatable, CustomStringConvertible {
    /// The field path: `collector.page_size`, `items[1].name`, or `(root)` for the document itself.
    public let field: String
    /// What is wrong and, where it helps, what would be right.
    public let message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}
