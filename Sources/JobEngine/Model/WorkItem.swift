import Foundation

/// A snapshot of one work item as the store holds it.
public struct WorkItem: Sendable, Equatable {
    public let id: UUID
    public let jobID: UUID
    public let jobName: String
    public let name: String
    public let status: WorkItemStatus
    public let phase: Phase
    /// 1 for the first run, bumped by every retry, manual or automatic.
    public let attempt: Int
    /// Documents staged by collection so far (the collect checkpoint's count).
    public let collected: Int
    /// Documents delivered to the sink so far (the ingest checkpoint's count).
    public let ingested: Int
    /// Documents fetched from the source over all attempts: what `recover` saved shows here.
    public let collectedTotal: Int
    public let lastError: String?
    public let errorKind: ErrorKind?
    /// The mode of the latest retry, if any.
    public let retryMode: RetryMode?
    public let leaseOwner: String?
    public let parameters: [String: JSONValue]
    public let updatedAt: Date
}
