/// Where a work item is in its lifecycle. Stored as the raw value.
///
/// `pending` → `running` → `succeeded` | `failed` | `cancelled`; a retry moves `failed` or
/// `cancelled` back to `pending`. Every transition is written by the store together with an event.
public enum WorkItemStatus: String, Sendable, Codable, CaseIterable {
    case pending
    case running
    case succeeded
    case failed
    case cancelled

    /// Only these may be retried (invariant 3).
    public var isRetryable: Bool {
        switch self {
        case .failed, .cancelled: return true
        case .pending, .running, .succeeded: return false
        }
    }

    /// The item will not run again without a retry.
    public var isFinished: Bool {
        switch self {
        case .succeeded, .failed, .cancelled: return true
        case .pending, .running: return false
        }
    }
}
