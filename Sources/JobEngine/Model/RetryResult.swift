import Foundation

/// What `retry(_:mode:)` did: how many retries started, and why the others did not.
public struct RetryResult: Sendable, Equatable {
    /// Why an id was skipped.
    public enum SkipReason: Sendable, Equatable, CustomStringConvertible {
        /// No work item has this id.
        case unknown
        /// The item is not `failed` or `cancelled`; carries its status.
        case notRetryable(WorkItemStatus)
        /// `recover` was asked, but the job's parameters changed since the checkpoints were made.
        case parametersChanged
        /// An automatic retry or a continuation after a crash was asked for an item of a cancelled
        /// job: after a cancel only a manual retry re-opens its items.
        case jobCancelled

        public var description: String {
            switch self {
            case .unknown: return "unknown work item"
            case .notRetryable(let status): return "not failed or cancelled (status: \(status.rawValue))"
            case .parametersChanged: return "parameters changed; use restart"
            case .jobCancelled: return "its job was cancelled; only a manual retry re-opens it"
            }
        }
    }

    public struct Skipped: Sendable, Equatable {
        public let id: UUID
        public let reason: SkipReason

        package init(id: UUID, reason: SkipReason) {
            self.id = id
            self.reason = reason
        }
    }

    /// Items whose retry started: the rows that changed in the retry's one transaction.
    public let total: Int
    /// The ids of the started items, in the order asked.
    public let started: [UUID]
    public let skipped: [Skipped]

    package init(total: Int, started: [UUID], skipped: [Skipped]) {
        self.total = total
        self.started = started
        self.skipped = skipped
    }
}

extension RetryResult {
    /// This result and `other`'s together, each started item counted once (a retry of listed ids
    /// followed by a retry of every failed item, say).
    public func merged(with other: RetryResult) -> RetryResult {
        var seen = Set(started)
        let more = other.started.filter { seen.insert($0).inserted }
        let startedAll = started + more
        let skippedAll = skipped + other.skipped.filter { !seen.contains($0.id) }
        return RetryResult(total: startedAll.count, started: startedAll, skipped: skippedAll)
    }
}
