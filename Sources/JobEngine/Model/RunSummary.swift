import Foundation

/// How a run of a job ended: the job's items as they stand afterwards.
public struct RunSummary: Sendable {
    public let job: Job
    public let items: [WorkItem]

    public init(job: Job, items: [WorkItem]) {
        self.job = job
        self.items = items
    }

    public var succeeded: [WorkItem] { items.filter { $0.status == .succeeded } }
    public var failed: [WorkItem] { items.filter { $0.status == .failed } }
    public var cancelled: [WorkItem] { items.filter { $0.status == .cancelled } }
    /// True when every item of the job succeeded.
    public var allSucceeded: Bool { items.allSatisfy { $0.status == .succeeded } }
}
