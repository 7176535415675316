import Foundation

extension Store {
    /// Starts a retry of each listed item that is `failed` or `cancelled`, all in one transaction.
    ///
    /// `total` is the number of rows this transaction changed, so two concurrent retries of the
    /// same item (threads or processes) start it once: the second sees it `pending` and skips it.
    /// Unknown ids, items in another status and (for `recover`) items whose job parameters changed
    /// since their checkpoints were made are skipped with a reason.
    ///
    /// - Throws: `SQLiteError` when the store cannot be written; then nothing changed.
    public func retry(_ ids: [UUID], mode: RetryMode, origin: RetryOrigin = .manual) throws -> RetryResult {
        guard !ids.isEmpty else { return RetryResult(total: 0, started: [], skipped: []) }
        let result = try writer.write { db in
            var started: [UUID] = []
            var skipped: [RetryResult.Skipped] = []
            for id in ids {
                switch try Self.startRetry(db, id: id.uuidString.lowercased(), mode: mode, origin: origin, notBefore: nil) {
                case .started: started.append(id)
                case .skipped(let reason): skipped.append(.init(id: id, reason: reason))
                }
            }
            return RetryResult(total: started.count, started: started, skipped: skipped)
        }
        EngineMetrics.retriesStarted(result.total, mode: mode, origin: origin)
        return result
    }

    /// What `retry(_:mode:dryRun:)` would do, changing nothing.
    public func retryPreview(_ ids: [UUID], mode: RetryMode) throws -> RetryResult {
        try reader.sync { db in
            var started: [UUID] = []
            var skipped: [RetryResult.Skipped] = []
            for id in ids {
                if let reason = try Self.retryRefusal(db, id: id.uuidString.lowercased(), mode: mode) {
                    skipped.append(.init(id: id, reason: reason))
                } else if !started.contains(id) {
                    started.append(id)
                } else {
                    skipped.append(.init(id: id, reason: .notRetryable(.pending)))
                }
            }
            return RetryResult(total: started.count, started: started, skipped: skipped)
        }
    }

    /// Who asked for a retry, which decides how it counts against `retry.max_attempts`.
    public enum RetryOrigin: String, Sendable {
        /// An operator or embedder: the item gets a fresh automatic-retry budget.
        case manual
        /// The retry policy after a transient failure: counts one attempt.
        case automatic
        /// Continuing after the worker died or shut down: counts nothing.
        case interruption
    }

    enum RetryStart {
        case started
        case skipped(RetryResult.SkipReason)
    }

    /// One item's retry inside the caller's transaction. An automatic retry counts against
    /// `retry.max_attempts`; a manual one gives the item a fresh budget; continuing after an
    /// interruption leaves the count as it was (the item was not at fault).
    static func startRetry(_ db: Connection, id: String, mode: RetryMode, origin: RetryOrigin, notBefore: Double?) throws -> RetryStart {
        if let reason = try retryRefusal(db, id: id, mode: mode) { return .skipped(reason) }
        if origin != .manual, try isJobCancelled(db, itemID: id) { return .skipped(.jobCancelled) }
        let before = try db.execute("SELECT status FROM work_items WHERE id = ?", [.text(id)])[0]
        let from = WorkItemStatus(rawValue: before.string("status") ?? "") ?? .failed
        let now = Self.now
        if mode == .restart {
            try db.execute("DELETE FROM checkpoints WHERE item_id = ?", [.text(id)])
            try db.execute("DELETE FROM staged_documents WHERE item_id = ?", [.text(id)])
        }
        try db.execute("""
            UPDATE work_items SET status = 'pending', attempt = attempt + 1, retry_mode = ?, not_before = ?,
            automatic_attempts = CASE ? WHEN 'automatic' THEN automatic_attempts + 1 WHEN 'manual' THEN 1
                ELSE automatic_attempts END,
            last_error = NULL, error_kind = NULL, updated_at = ?,
            phase = CASE WHEN ? THEN 'collect' ELSE phase END,
            collected = CASE WHEN ? THEN 0 ELSE collected END,
            ingested = CASE WHEN ? THEN 0 ELSE ingested END,
            needs_sink_reset = CASE WHEN ? THEN 1 ELSE needs_sink_reset END,
            checkpoint_fingerprint = CASE WHEN ? THEN NULL ELSE checkpoint_fingerprint END
            WHERE id = ? AND status IN ('failed', 'cancelled')
            """, [.text(mode.rawValue), SQLValue(notBefore), .text(origin.rawValue), .real(now)]
                + Array(repeating: .integer(mode == .restart ? 1 : 0), count: 5) + [.text(id)])
        guard db.changes == 1 else { return .skipped(.unknown) }
        let row = try db.execute("SELECT job_id, attempt FROM work_items WHERE id = ?", [.text(id)])[0]
        let jobID = row.string("job_id") ?? ""
        // An explicit retry of an item of a cancelled job means the operator wants it to run; nothing
        // else (an automatic retry, continuing after a crash) may undo a cancel.
        if origin == .manual {
            try db.execute("UPDATE jobs SET cancelled = 0 WHERE id = ? AND cancelled = 1", [.text(jobID)])
        }
        try recordEvent(db, itemID: id, jobID: jobID, attempt: row.int("attempt"), from: from, to: .pending, mode: mode)
        return .started
    }

    /// Why this item cannot be retried in `mode` now, or nil when it can.
    static func retryRefusal(_ db: Connection, id: String, mode: RetryMode) throws -> RetryResult.SkipReason? {
        guard let row = try db.execute(
            "SELECT status, params_fingerprint, checkpoint_fingerprint FROM work_items WHERE id = ?", [.text(id)]).first
        else { return .unknown }
        let status = WorkItemStatus(rawValue: row.string("status") ?? "") ?? .pending
        guard status.isRetryable else { return .notRetryable(status) }
        if mode == .recover, let made = row.string("checkpoint_fingerprint"), made != row.string("params_fingerprint") {
            return .parametersChanged
        }
        return nil
    }
}
