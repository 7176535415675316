import Foundation

/// What submitting a spec did.
public struct SubmitResult: Sendable {
    public let job: Job
    /// True when this was the job's first submission.
    public let created: Bool
    /// Items added by this submission (the first 1,000; ``addedCount`` counts them all).
    public let addedItems: [String]
    /// Items whose parameters differ from those their checkpoints were made with: `recover` is
    /// refused for them until they restart (the first 1,000; ``changedCount`` counts them all).
    public let changedItems: [String]
    /// How many items this submission added.
    public let addedCount: Int
    /// How many items' parameters changed since their checkpoints.
    public let changedCount: Int

    package init(job: Job, created: Bool, addedItems: [String], changedItems: [String], addedCount: Int, changedCount: Int) {
        self.job = job
        self.created = created
        self.addedItems = addedItems
        self.changedItems = changedItems
        self.addedCount = addedCount
        self.changedCount = changedCount
    }
}
