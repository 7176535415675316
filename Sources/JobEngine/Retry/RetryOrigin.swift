/// Who asked for a retry, which decides how it counts against `retry.max_attempts` and whether it
/// may re-open a cancelled job (``RetryRules``).
package enum RetryOrigin: String, Sendable {
    /// An operator or embedder: the item gets a fresh automatic-retry budget.
    case manual
    /// The retry policy after a transient failure: counts one attempt.
    case automatic
    /// Continuing after the worker died or shut down: counts nothing.
    case interruption
}

extension Store {
    /// The origin of a retry; kept under its old name for callers of `Store.retry(_:mode:origin:)`.
    package typealias RetryOrigin = JobEngine.RetryOrigin
}
