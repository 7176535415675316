import Testing

@testable import JobEngine

/// The retry rules on their own, as the store asks them (invariants 3 and 4, and cancels).
@Suite struct RetryRulesTests {
    static func facts(_ status: WorkItemStatus, made: String? = "p", current: String = "p", cancelled: Bool = false) -> RetryRules.Facts {
        RetryRules.Facts(status: status, parametersFingerprint: current, checkpointFingerprint: made, jobCancelled: cancelled)
    }

    @Test func onlyFailedOrCancelledItemsAreRetried() {
        #expect(RetryRules.refusal(nil, mode: .recover, origin: .manual) == .unknown)
        for status in [WorkItemStatus.pending, .running, .succeeded] {
            #expect(RetryRules.refusal(Self.facts(status), mode: .restart, origin: .manual) == .notRetryable(status))
        }
        for status in [WorkItemStatus.failed, .cancelled] {
            #expect(RetryRules.refusal(Self.facts(status), mode: .recover, origin: .manual) == nil)
        }
    }

    @Test func recoverIsRefusedWhenParametersChangedAndRestartIsNot() {
        let changed = Self.facts(.failed, made: "old", current: "new")
        #expect(RetryRules.refusal(changed, mode: .recover, origin: .manual) == .parametersChanged)
        #expect(RetryRules.refusal(changed, mode: .restart, origin: .manual) == nil)
        #expect(RetryRules.refusal(Self.facts(.failed, made: nil), mode: .recover, origin: .manual) == nil)
    }

    @Test func onlyAManualRetryReopensACancelledJob() {
        let cancelled = Self.facts(.failed, cancelled: true)
        #expect(RetryRules.refusal(cancelled, mode: .recover, origin: .manual) == nil)
        #expect(RetryRules.refusal(cancelled, mode: .recover, origin: .automatic) == .jobCancelled)
        #expect(RetryRules.refusal(cancelled, mode: .recover, origin: .interruption) == .jobCancelled)
    }

    @Test func budgets() {
        #expect(RetryRules.budget(for: .manual) == .reset)
        #expect(RetryRules.budget(for: .automatic) == .countOne)
        #expect(RetryRules.budget(for: .interruption) == .keep)
    }
}
