import Foundation

/// What submitting a spec did.
public struct SubmitResult: Sendable {
    public let job: Job
    /// True when this was the job's first submission.
    public let created: Bool
    /// Items added by this submission.
    public let addedItems: [String]
    /// Items whose parameters differ from those their checkpoints were made with: `recover` is
    /// refused for them until they restart.
    public let changedItems: [String]
}
