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
    package func retry(_ ids: [UUID], mode: RetryMode, origin: RetryOrigin = .manual) throws -> RetryResult {
        guard !ids.isEmpty else { return RetryResult(total: 0, started: [], skipped: []) }
        let result = try writer.write { db in try Self.retry(db, ids, mode: mode, origin: origin) }
        EngineMetrics.retriesStarted(result.total, mode: mode, origin: origin)
        return result
    }

    /// As `retry(_:mode:origin:)`, from async code.
    package func retry(_ ids: [UUID], mode: RetryMode, origin: RetryOrigin = .manual) async throws -> RetryResult {
        guard !ids.isEmpty else { return RetryResult(total: 0, started: [], skipped: []) }
        let result = try await writer.write { db in try Self.retry(db, ids, mode: mode, origin: origin) }
        EngineMetrics.retriesStarted(result.total, mode: mode, origin: origin)
        return result
    }

    private static func retry(_ db: Connection, _ ids: [UUID], mode: RetryMode, origin: RetryOrigin) throws -> RetryResult {
        var started: [UUID] = []
        var skipped: [RetryResult.Skipped] = []
        for id in ids {
            if let reason = try retryOne(db, id: id.uuidString.lowercased(), mode: mode, origin: origin, dryRun: false) {
                skipped.append(.init(id: id, reason: reason))
            } else {
                started.append(id)
            }
        }
        return RetryResult(total: started.count, started: started, skipped: skipped)
    }

    /// Starts one item's retry (or, with `dryRun`, only asks ``RetryRules`` whether it would start):
    /// nil when it starts, else why not. The one path listed, bulk and previewed retries share.
    private static func retryOne(_ db: Connection, id: String, mode: RetryMode, origin: RetryOrigin, dryRun: Bool) throws
        -> RetryResult.SkipReason?
    {
        if dryRun { return RetryRules.refusal(try retryFacts(db, id: id), mode: mode, origin: origin) }
        if case .skipped(let reason) = try startRetry(db, id: id, mode: mode, origin: origin, notBefore: nil) { return reason }
        return nil
    }

    /// Starts a retry of every item `filter` matches, a step of `submitStep` items per
    /// transaction, walking each job's failed (then cancelled) items by position along an index,
    /// never a scan of its other items (``RetryFilter/walks``). With `dryRun`, says what it would
    /// start and changes nothing. Each step is one transaction, so concurrent retries still start each item once.
    package func retryMatching(_ filter: RetryFilter, mode: RetryMode, dryRun: Bool, scanLimit: Int) async throws
        -> RetryResult
    {
        precondition(scanLimit >= 1, "a step looks at one item at least")
        let jobs: [String]
        if let jobID = filter.jobID {
            jobs = [jobID.uuidString.lowercased()]
        } else {
            let counters = filter.retryableStatuses.map { "\($0.rawValue)_items > 0" }
            guard !counters.isEmpty else { return RetryResult(total: 0, started: [], skipped: []) }
            jobs = try await reader.run { db in
                try db.execute("SELECT id FROM jobs WHERE \(counters.joined(separator: " OR ")) ORDER BY created_at")
                    .compactMap { $0.string("id") }
            }
        }
        var started: [UUID] = []
        var skipped: [RetryResult.Skipped] = []
        for job in jobs {
            for walk in filter.walks(namesIndex: true, placeholder: { _ in "?" }, contains: Self.containsText) {
                var after = -1
                while true {
                    let from = after
                    let step: @Sendable (Connection) throws -> RetryStep? = { db in
                        try Self.retryStep(db, walk, job: job, after: from, scanLimit: scanLimit, mode: mode, dryRun: dryRun)
                    }
                    let done: RetryStep?
                    do {
                        done = try await Self.waitingOutContention { try await dryRun ? reader.run(step) : writer.write(step) }
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

    /// SQLite's case-insensitive substring test (ASCII case only: `lower()` folds no other letters).
    static func containsText(_ column: String, _ parameter: String) -> String {
        "instr(lower(\(column)), lower(\(parameter))) > 0"
    }

    /// One step of `retryMatching`: the retries it started (or would start), those skipped, and the
    /// position to go on after.
    struct RetryStep: Sendable {
        let last: Int
        var started: [UUID] = []
        var skipped: [RetryResult.Skipped] = []
    }

    /// One step along `walk`: the next `submitStep` matching items, among at most
    /// `scanLimit` items walked; nil when the walk has nothing left.
    private static func retryStep(_ db: Connection, _ walk: ItemWalk, job: String, after: Int, scanLimit: Int,
                                  mode: RetryMode, dryRun: Bool) throws -> RetryStep? {
        let start: [SQLValue] = [.text(job), .integer(Int64(after))] + walk.alongValues
        let end = try walk.lookEnd(scanLimit).flatMap { try db.execute($0, start).first?.int("position") }
        let rows = try db.execute("""
            SELECT w.id, w.position FROM \(walk.source) WHERE \(walk.conditions(upTo: end.map(Int64.init)))
            ORDER BY w.position LIMIT \(submitStep)
            """, start + walk.narrowingValues)
        // A full step goes on after its last item; a short one after where its walk ended, if it did.
        guard let last = rows.count == submitStep ? rows.last?.int("position") : end ?? rows.last?.int("position")
        else { return nil }
        var step = RetryStep(last: last)
        for row in rows {
            let text = row.string("id") ?? ""
            let id = try decoded(row, "id", in: "work_items", as: UUID.init(uuidString:))
            if let reason = try retryOne(db, id: text, mode: mode, origin: .manual, dryRun: dryRun) {
                step.skipped.append(.init(id: id, reason: reason))
            } else {
                step.started.append(id)
            }
        }
        return step
    }

    /// What `retry(_:mode:dryRun:)` would do, changing nothing.
    package func retryPreview(_ ids: [UUID], mode: RetryMode) async throws -> RetryResult {
        try await reader.run { db in
            try RetryRules.preview(ids, mode: mode) { try Self.retryFacts(db, id: $0) }
        }
    }

    enum RetryStart {
        case started
        case skipped(RetryResult.SkipReason)
    }

    /// One item's retry inside the caller's transaction: the facts are read here, ``RetryRules``
    /// decides, and the change is applied in the same transaction.
    static func startRetry(_ db: Connection, id: String, mode: RetryMode, origin: RetryOrigin, notBefore: Double?) throws -> RetryStart {
        let facts = try retryFacts(db, id: id)
        if let reason = RetryRules.refusal(facts, mode: mode, origin: origin) { return .skipped(reason) }
        let from = facts?.status ?? .failed
        let now = Self.now
        if mode == .restart { try clearForRestart(db, id: id) }
        let budget: String
        switch RetryRules.budget(for: origin) {
        case .reset: budget = "1, interruptions = 0"
        case .countOne: budget = "automatic_attempts + 1"
        case .keep: budget = "automatic_attempts"
        }
        try db.execute("""
            UPDATE work_items SET status = 'pending', attempt = attempt + 1, retry_mode = ?, not_before = ?,
            automatic_attempts = \(budget), last_error = NULL, error_kind = NULL, updated_at = ?
            WHERE id = ? AND status IN ('failed', 'cancelled')
            """, [.text(mode.rawValue), SQLValue(notBefore), .real(now), .text(id)])
        guard db.changes == 1 else { return .skipped(.unknown) }
        let row = try db.execute("SELECT job_id, attempt FROM work_items WHERE id = ?", [.text(id)])[0]
        let jobID = row.string("job_id") ?? ""
        if RetryRules.reopensCancelledJob(origin) {
            try db.execute("UPDATE jobs SET cancelled = 0 WHERE id = ? AND cancelled = 1", [.text(jobID)])
        }
        try recordEvent(db, itemID: id, jobID: jobID, attempt: row.int("attempt"), from: from, to: .pending, mode: mode)
        return .started
    }

    /// Clears an item's engine state so it runs from the beginning, inside the caller's transaction:
    /// its checkpoints and staged documents go, its counts start again, its sink output is reset at
    /// its next run, and its next claim records the fingerprint it runs under. A restart asked for
    /// and a claim that finds the parameters changed both come here.
    static func clearForRestart(_ db: Connection, id: String) throws {
        try db.execute("DELETE FROM checkpoints WHERE item_id = ?", [.text(id)])
        try db.execute("DELETE FROM staged_documents WHERE item_id = ?", [.text(id)])
        try db.execute("""
            UPDATE work_items SET phase = 'collect', collected = 0, ingested = 0, needs_sink_reset = 1,
            checkpoint_fingerprint = NULL WHERE id = ?
            """, [.text(id)])
    }

    /// What ``RetryRules`` decides on, read inside the caller's transaction; nil for an unknown id.
    static func retryFacts(_ db: Connection, id: String) throws -> RetryRules.Facts? {
        try db.execute("""
            SELECT w.status, w.params_fingerprint, w.checkpoint_fingerprint, j.cancelled
            FROM work_items w JOIN jobs j ON j.id = w.job_id WHERE w.id = ?
            """, [.text(id)]).first.map(decodeRetryFacts)
    }

    /// What ``RetryRules`` decides on, from a row of `status`, `params_fingerprint`,
    /// `checkpoint_fingerprint` and the job's `cancelled` (both stores read the same columns).
    package static func decodeRetryFacts(_ row: Row) -> RetryRules.Facts {
        RetryRules.Facts(status: WorkItemStatus(rawValue: row.string("status") ?? "") ?? .pending,
                         parametersFingerprint: row.string("params_fingerprint"),
                         checkpointFingerprint: row.string("checkpoint_fingerprint"),
                         jobCancelled: row.int("cancelled") != 0)
    }
}
