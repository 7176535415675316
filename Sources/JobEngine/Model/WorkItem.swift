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
    /// Documents fetched from the source over all attempts.
    public let collectedTotal: Int
    /// Documents its runs did not fetch again because they resumed from its checkpoints (a recover,
    /// manual or automatic, or a run continued after its worker died), over all attempts: what
    /// recovering rather than restarting saved. A restart keeps nothing and adds nothing.
    public let notCollectedAgain: Int
    public let lastError: String?
    public let errorKind: ErrorKind?
    /// The mode of the latest retry, if any.
    public let retryMode: RetryMode?
    public let leaseOwner: String?
    public let parameters: [String: JSONValue]
    public let updatedAt: Date
    /// What the collector said with its last page about where a running item stands
    /// (`collecting: snapshot s_… running, 3 min`); nil when it said nothing or the item is not running.
    public let progressNote: String?
}

extension WorkItem {
    /// This snapshot with another outcome: how a run reports an item whose outcome the store did
    /// not take (it still reads `running` there until its lease expires).
    func overriding(status: WorkItemStatus, error: String?, kind: ErrorKind?) -> WorkItem {
        WorkItem(id: id, jobID: jobID, jobName: jobName, name: name, status: status, phase: phase, attempt: attempt,
                 collected: collected, ingested: ingested, collectedTotal: collectedTotal,
                 notCollectedAgain: notCollectedAgain, lastError: error,
                 errorKind: kind, retryMode: retryMode, leaseOwner: nil, parameters: parameters, updatedAt: updatedAt,
                 progressNote: nil)
    }
}
