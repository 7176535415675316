import Foundation

/// Starts manual retries in `restart` or `recover` mode.
///
/// A retry starts only for items that are `failed` or `cancelled`; the returned `total` is the
/// number of rows changed in one transaction, so concurrent retries of one item start it once
/// (invariant 3). `recover` is refused for an item whose job parameters changed since its
/// checkpoints were made (invariant 4): "parameters changed; use restart". Every retry is recorded
/// in the item's history with its mode (invariant 5).
///
/// ```swift
/// let result = try await RetryCoordinator(store: store).retry([id], mode: .recover)
/// print(result.total, result.skipped.map(\.reason))
/// ```
package struct RetryCoordinator: Sendable {
    package let store: any JobStore

    package init(store: any JobStore) {
        self.store = store
    }

    /// - Throws: `SQLiteError` when the store cannot be written; then nothing changed.
    package func retry(_ ids: [UUID], mode: RetryMode) async throws -> RetryResult {
        try await store.retry(ids, mode: mode)
    }

    /// Retries `ids` in `mode`, and restarts instead the items whose parameters changed (where
    /// recover is refused): what re-running a spec and resuming after a crash do, since an
    /// operator asking to continue wants the item done, and restart is the only safe way for those.
    package func retryOrRestart(_ ids: [UUID], mode: RetryMode, origin: RetryOrigin = .manual) throws
        -> (retried: RetryResult, restarted: RetryResult)
    {
        let retried = try store.retry(ids, mode: mode, origin: origin)
        let changed = retried.skipped.filter { $0.reason == .parametersChanged }.map(\.id)
        let restarted = try store.retry(changed, mode: .restart, origin: origin)
        return (retried, restarted)
    }

    /// What `retry` would do now, changing nothing.
    package func preview(_ ids: [UUID], mode: RetryMode) async throws -> RetryResult {
        try await store.retryPreview(ids, mode: mode)
    }
}
