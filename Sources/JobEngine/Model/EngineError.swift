/// An error of the engine itself (not of one work item): a bad spec, a store that cannot be used,
/// an unknown job. Compare with the static codes: `error.code == .invalidSpec`.
public struct EngineError: Error, Sendable, CustomStringConvertible, Equatable {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Value: String, Sendable {
            case invalidSpec
            case unknownJob
            case storeUnusable
            case storeNewerThanEngine
            case shutDown
            case busy
        }

        fileprivate let value: Value

        /// The spec is malformed; `problems` lists every problem by field path.
        public static let invalidSpec = Code(value: .invalidSpec)
        /// No job has the given id or name.
        public static let unknownJob = Code(value: .unknownJob)
        /// The store file is not a JobEngine store, SQLite refused it, or a PostgreSQL store's URL
        /// or server cannot be used.
        public static let storeUnusable = Code(value: .storeUnusable)
        /// The store was written by a newer engine (a higher schema version).
        public static let storeNewerThanEngine = Code(value: .storeNewerThanEngine)
        /// The engine was shut down or closed.
        public static let shutDown = Code(value: .shutDown)
        /// Another engine is doing the same thing now (submitting the same job); try again later.
        public static let busy = Code(value: .busy)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let message: String
    /// For `invalidSpec`: every problem, each as "field.path: what is wrong".
    public let problems: [SpecProblem]

    package init(_ code: Code, _ message: String, problems: [SpecProblem] = []) {
        self.code = code
        self.message = message
        self.problems = problems
    }

    public var description: String {
        guard !problems.isEmpty else { return message }
        return ([message] + problems.map { "  \($0)" }).joined(separator: "\n")
    }
}
