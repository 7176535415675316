import Foundation

/// One job's standing: item counts per status, documents, and when it last made progress.
public struct JobStatus: Sendable, Equatable {
    public let job: Job
    public let counts: [WorkItemStatus: Int]
    public let collected: Int
    public let ingested: Int
    public let collectedTotal: Int
    /// The last page or batch checkpoint of any of its items, if any.
    public let lastProgress: Date?

    public var itemCount: Int { counts.values.reduce(0, +) }
}
