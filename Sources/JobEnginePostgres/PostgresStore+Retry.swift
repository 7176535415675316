import Foundation
import JobEngine

extension PostgresStore {
    enum RetryStart {
        case started
        case skipped(RetryResult.SkipReason)
    }

    package func retry(_ ids: [UUID], mode: RetryMode, origin: RetryOrigin) throws -> RetryResult {
        guard !ids.isEmpty else { return RetryResult(total: 0, started: [], skipped: []) }
        let result = try sessions.transactionAnsweredOnce { db in try self.retry(db, ids, mode: mode, origin: origin) }
        EngineMetrics.retriesStarted(result.total, mode: mode, origin: origin)
        return result
    }

    package func retry(_ ids: [UUID], mode: RetryMode, origin: RetryOrigin) async throws -> RetryResult {
        guard !ids.isEmpty else { return RetryResult(total: 0, started: [], skipped: []) }
        let result = try await sessions.transactionAnsweredOnce { db in try self.retry(db, ids, mode: mode, origin: origin) }
        EngineMetrics.retriesStarted(result.total, mode: mode, origin: origin)
        return result
    }

    /// Every listed item in one transaction. Each item's row is locked as its facts are read, so
    /// concurrent retries from several hosts start each item once: the second waits for the first's
    /// commit, then finds the item `pending` and skips it.
    private func retry(_ db: PostgresSession, _ ids: [UUID], mode: RetryMode, origin: RetryOrigin) throws -> RetryResult {
        var started: [UUID] = []
        var skipped: [RetryResult.Skipped] = []
        // In id order: two bulk retries lock rows in the same order and never deadlock.
        let ordered = Set(ids).sorted { $0.uuidString < $1.uuidString }
        var outcome: [UUID: RetryResult.SkipReason] = [:]
        for id in ordered {
            if case .skipped(let reason) = try startRetry(db, id: id.uuidString.lowercased(), mode: mode, origin: origin,
                                                          notBeforeDelay: nil) {
                outcome[id] = reason
            }
        }
        var seen = Set<UUID>()
        for id in ids {
            if !seen.insert(id).inserted {
                skipped.append(.init(id: id, reason: .notRetryable(.pending)))
            } else if let reason = outcome[id] {
                skipped.append(.init(id: id, reason: reason))
            } else {
                started.append(id)
            }
        }
        if !started.isEmpty { try notifyWorkQueued(db) }
        return RetryResult(total: started.count, started: started, skipped: skipped)
    }

    package func retryPreview(_ ids: [UUID], mode: RetryMode) async throws -> RetryResult {
        try await sessions.read { db in
            try RetryRules.preview(ids, mode: mode) { try Self.retryFacts(db, id: $0, lock: false) }
        }
    }

    /// Every item `filter` matches, a step of items per transaction, each job's by position.
    package func retryMatching(_ filter: RetryFilter, mode: RetryMode, dryRun: Bool, scanLimit: Int) async throws
        -> RetryResult
    {
        precondition(scanLimit >= 1, "a step looks at one item at least")
        let counters = filter.retryableStatuses.map { "\($0.rawValue)_items > 0" }
        guard !counters.isEmpty else { return RetryResult(total: 0, started: [], skipped: []) }
        let jobs: [String] = try await sessions.read { db in
            if let jobID = filter.jobID { return [jobID.uuidString.lowercased()] }
            return try db.execute("SELECT id FROM job_standing WHERE \(counters.joined(separator: " OR ")) ORDER BY created_at")
                .compactMap { $0.string("id") }
        }
        var started: [UUID] = []
        var skipped: [RetryResult.Skipped] = []
        for job in jobs {
            for walk in filter.walks(namesIndex: false, placeholder: { "$\($0)" }, contains: Self.containsText) {
                var after: Int64 = -1
                while true {
                    let from = after
                    let step: @Sendable (PostgresSession) throws -> RetryStep? = { db in
                        try self.retryStep(db, walk, job: job, after: from, scanLimit: scanLimit, mode: mode, dryRun: dryRun)
                    }
                    let done: RetryStep?
                    do {
                        done = try await dryRun ? sessions.read(step) : sessions.transactionAnsweredOnce(step)
                    } catch where !dryRun && !(started.isEmpty && skipped.isEmpty) {
                        throw BulkRetryStopped(started: started.count, underlying: error)
                    }
                    guard let done else { break }
                    after = done.last
                    started += done.started
                    skipped += done.skipped
                }
            }
        }
        if !dryRun { EngineMetrics.retriesStarted(started.count, mode: mode, origin: .manual) }
        return RetryResult(total: started.count, started: started, skipped: skipped)
    }

    /// One step of `retryMatching`: the retries it started (or would start), those skipped, and the
    /// position to go on after.
    struct RetryStep: Sendable {
        let last: Int64
        var started: [UUID] = []
        var skipped: [RetryResult.Skipped] = []
    }

    /// One step along `walk`, as the SQLite store's: the next 5,000 matching items (locked as they are
    /// read, so the filter and the retry see one version of each row), among at most
    /// `scanLimit` items walked; nil when the walk has nothing left.
    private func retryStep(_ db: PostgresSession, _ walk: ItemWalk, job: String, after: Int64, scanLimit: Int,
                           mode: RetryMode, dryRun: Bool) throws -> RetryStep? {
        let stepSize = 5_000
        let start: [SQLValue] = [.text(job), .integer(after)] + walk.alongValues
        let end = try walk.lookEnd(scanLimit).flatMap { try db.execute($0, start).first?.int64("position") }
        let rows = try db.execute("""
            SELECT w.id, w.position FROM \(walk.source) WHERE \(walk.conditions(upTo: end))
            ORDER BY w.position LIMIT \(stepSize)\(dryRun ? "" : " FOR UPDATE")
            """, start + walk.narrowingValues)
        guard let last = rows.count == stepSize ? rows.last?.int64("position") : end ?? rows.last?.int64("position")
        else { return nil }
        var step = RetryStep(last: last)
        for row in rows {
            let text = row.string("id") ?? ""
            guard let id = UUID(uuidString: text) else { continue }
            let reason: RetryResult.SkipReason?
            if dryRun {
                reason = RetryRules.refusal(try Self.retryFacts(db, id: text, lock: false), mode: mode, origin: .manual)
            } else if case .skipped(let why) = try startRetry(db, id: text, mode: mode, origin: .manual, notBeforeDelay: nil) {
                reason = why
            } else {
                reason = nil
            }
            if let reason { step.skipped.append(.init(id: id, reason: reason)) } else { step.started.append(id) }
        }
        if !dryRun && !step.started.isEmpty { try notifyWorkQueued(db) }
        return step
    }

    /// PostgreSQL's case-insensitive substring test.
    static func containsText(_ column: String, _ parameter: String) -> String {
        "strpos(lower(\(column)), lower(\(parameter))) > 0"
    }

    /// One item's retry inside the caller's transaction: its row locked, its facts read,
    /// ``RetryRules`` decides, the change applied. `notBeforeDelay`: seconds from the database's now.
    func startRetry(_ db: PostgresSession, id: String, mode: RetryMode, origin: RetryOrigin, notBeforeDelay: Double?) throws -> RetryStart {
        let facts = try Self.retryFacts(db, id: id, lock: true)
        if let reason = RetryRules.refusal(facts, mode: mode, origin: origin) { return .skipped(reason) }
        let from = facts?.status ?? .failed
        if mode == .restart { try Self.clearForRestart(db, id: id) }
        let budget: String
        switch RetryRules.budget(for: origin) {
        case .reset: budget = "1, interruptions = 0"
        case .countOne: budget = "automatic_attempts + 1"
        case .keep: budget = "automatic_attempts"
        }
        guard let row = try db.execute("""
            UPDATE work_items SET status = 'pending', attempt = attempt + 1, retry_mode = $1,
            not_before = CASE WHEN $2::float8 IS NULL THEN NULL ELSE \(Self.now) + $2::float8 END,
            automatic_attempts = \(budget), last_error = NULL, error_kind = NULL, updated_at = \(Self.now)
            WHERE id = $3 AND status IN ('failed', 'cancelled') RETURNING job_id, attempt
            """, [.text(mode.rawValue), SQLValue(notBeforeDelay), .text(id)]).first else { return .skipped(.unknown) }
        let jobID = row.string("job_id") ?? ""
        if RetryRules.reopensCancelledJob(origin) {
            try db.execute("UPDATE jobs SET cancelled = 0 WHERE id = $1 AND cancelled = 1", [.text(jobID)])
        }
        try recordEvent(db, itemID: id, jobID: jobID, attempt: row.int("attempt"), from: from, to: .pending, mode: mode)
        return .started
    }

    /// Clears an item's engine state so it runs from the beginning (as the SQLite store does).
    static func clearForRestart(_ db: PostgresSession, id: String) throws {
        try db.execute("DELETE FROM checkpoints WHERE item_id = $1", [.text(id)])
        try db.execute("DELETE FROM staged_documents WHERE item_id = $1", [.text(id)])
        try db.execute("""
            UPDATE work_items SET phase = 'collect', collected = 0, ingested = 0, needs_sink_reset = 1,
            checkpoint_fingerprint = NULL WHERE id = $1
            """, [.text(id)])
    }

    /// What ``RetryRules`` decides on; with `lock`, the item's row is locked until the transaction ends.
    static func retryFacts(_ db: PostgresSession, id: String, lock: Bool) throws -> RetryRules.Facts? {
        try db.execute("""
            SELECT w.status, w.params_fingerprint, w.checkpoint_fingerprint, j.cancelled
            FROM work_items w JOIN jobs j ON j.id = w.job_id WHERE w.id = $1\(lock ? " FOR UPDATE OF w" : "")
            """, [.text(id)]).first.map(Store.decodeRetryFacts)
    }
}
