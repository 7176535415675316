import Foundation

/// Which items a bulk retry takes, for the hour after an outage: "every item of this job that
/// failed with a 503 while collecting since ten o'clock". Every condition given must hold; an
/// empty filter takes every failed item of every job.
public struct RetryFilter: Sendable, Equatable {
    /// Only this job's items; nil for every job's.
    public var jobID: UUID?
    /// `failed`, `cancelled` or both (the only statuses a retry starts from); others match nothing.
    public var statuses: Set<WorkItemStatus>
    /// Only items that failed with this kind.
    public var errorKind: ErrorKind?
    /// Only items whose last error contains this text (case-insensitive).
    public var errorContains: String?
    /// Only items that stopped in this phase (`collect` or `ingest`).
    public var phase: Phase?
    /// Only items that stopped at or after this instant.
    public var failedSince: Date?

    public init(jobID: UUID? = nil, statuses: Set<WorkItemStatus> = [.failed], errorKind: ErrorKind? = nil,
                errorContains: String? = nil, phase: Phase? = nil, failedSince: Date? = nil) {
        self.jobID = jobID
        self.statuses = statuses
        self.errorKind = errorKind
        self.errorContains = errorContains
        self.phase = phase
        self.failedSince = failedSince
    }

    /// The statuses a retry can start from, in a fixed order (for the stores' queries).
    package var retryableStatuses: [WorkItemStatus] {
        [WorkItemStatus.failed, .cancelled].filter(statuses.contains)
    }
}
