import Foundation

/// Every rule that decides whether a retry starts and what it costs. The store reads an item's facts
/// and applies the outcome in one transaction (invariant 3); the deciding happens here.
///
/// ```swift
/// let facts = RetryRules.Facts(status: .failed, parametersFingerprint: "a", checkpointFingerprint: "b", jobCancelled: false)
/// RetryRules.refusal(facts, mode: .recover, origin: .manual)   // .parametersChanged: use restart
/// RetryRules.budget(for: .automatic)                            // .countOne
/// ```
package enum RetryRules {
    /// What the rules look at, read in the retry's transaction.
    package struct Facts {
        package let status: WorkItemStatus
        /// The fingerprint of the job's current parameters for the item.
        let parametersFingerprint: String?
        /// The fingerprint its checkpoints were made under (nil before its first claim, or after a restart).
        let checkpointFingerprint: String?
        let jobCancelled: Bool

        package init(status: WorkItemStatus, parametersFingerprint: String?, checkpointFingerprint: String?, jobCancelled: Bool) {
            self.status = status
            self.parametersFingerprint = parametersFingerprint
            self.checkpointFingerprint = checkpointFingerprint
            self.jobCancelled = jobCancelled
        }
    }

    /// How a retry changes the item's count of automatic attempts.
    package enum Budget {
        /// A fresh budget: the count starts again at 1.
        case reset
        /// One more attempt counted.
        case countOne
        /// Unchanged: the item was not at fault.
        case keep
    }

    /// Why the retry may not start, or nil when it may (`facts` nil: no such item).
    /// What a manual retry of `ids` would do, changing nothing: each id's facts (read by `facts`
    /// from the lower-case id) judged as ``refusal(_:mode:origin:)`` judges them; a repeated id
    /// is skipped as the real retry would find it, pending.
    package static func preview(_ ids: [UUID], mode: RetryMode, facts: (String) throws -> Facts?) rethrows -> RetryResult {
        var started: [UUID] = []
        var seen = Set<UUID>()
        var skipped: [RetryResult.Skipped] = []
        for id in ids {
            if let reason = refusal(try facts(id.uuidString.lowercased()), mode: mode, origin: .manual) {
                skipped.append(.init(id: id, reason: reason))
            } else if seen.insert(id).inserted {
                started.append(id)
            } else {
                skipped.append(.init(id: id, reason: .notRetryable(.pending)))
            }
        }
        return RetryResult(total: started.count, started: started, skipped: skipped)
    }

    package static func refusal(_ facts: Facts?, mode: RetryMode, origin: RetryOrigin) -> RetryResult.SkipReason? {
        guard let facts else { return .unknown }
        // Invariant 3: only failed or cancelled items.
        guard facts.status.isRetryable else { return .notRetryable(facts.status) }
        // Invariant 4: recover never resumes checkpoints made under other parameters.
        if mode == .recover, let made = facts.checkpointFingerprint, made != facts.parametersFingerprint {
            return .parametersChanged
        }
        // After a cancel, only an operator re-opens the job's items.
        if facts.jobCancelled && !reopensCancelledJob(origin) { return .jobCancelled }
        return nil
    }

    package static func budget(for origin: RetryOrigin) -> Budget {
        switch origin {
        case .manual: return .reset
        case .automatic: return .countOne
        case .interruption: return .keep
        }
    }

    /// Whether a retry of this origin re-opens a cancelled job: an explicit retry means the operator
    /// wants it to run; nothing else (an automatic retry, continuing after a crash) may undo a cancel.
    package static func reopensCancelledJob(_ origin: RetryOrigin) -> Bool {
        origin == .manual
    }
}
