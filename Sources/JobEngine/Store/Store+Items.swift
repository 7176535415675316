import Foundation

/// A claimed item with everything its runner needs to continue it.
package struct ClaimedItem: Sendable {
    package let item: WorkItem
    package let automaticAttempts: Int
    package let needsSinkReset: Bool
    /// The collect checkpoint's cursor (nil: start from the first page).
    package let collectCursor: String?
    /// The ingest checkpoint's sink offset (e.g. the file sink's byte length), if any.
    package let sinkOffset: Int64?
    /// The claim found the job's parameters changed since the item's checkpoints and restarted it.
    package let restartedForChangedParameters: Bool

    package init(item: WorkItem, automaticAttempts: Int, needsSinkReset: Bool, collectCursor: String?, sinkOffset: Int64?,
                 restartedForChangedParameters: Bool) {
        self.item = item
        self.automaticAttempts = automaticAttempts
        self.needsSinkReset = needsSinkReset
        self.collectCursor = collectCursor
        self.sinkOffset = sinkOffset
        self.restartedForChangedParameters = restartedForChangedParameters
    }
}

/// What a claim found.
package enum Claim {
    case claimed(ClaimedItem)
    /// Nothing of the job is runnable now.
    case nothing
    /// The job has a newer spec version than the run was started with: the run must end and
    /// start again with the new spec, or it would run items with settings they were not made for.
    case specChanged
}

extension Store {
    package static let itemColumns = """
        w.id, w.job_id, j.name AS job_name, w.name, w.status, w.phase, w.attempt, w.automatic_attempts, w.collected,
        w.ingested, w.collected_total, w.last_error, w.error_kind, w.retry_mode, w.lease_owner, w.params_json,
        w.updated_at, w.needs_sink_reset, w.progress_note, w.not_collected_again
        """

    /// One work item, or nil for an unknown id.
    package func item(_ id: UUID) async throws -> WorkItem? {
        try await reader.run { db in try Self.itemRow(db, id: id.uuidString.lowercased()).map(Self.decodeItem) }
    }

    /// The row of one item with its job's name, as `decodeItem` reads it.
    static func itemRow(_ db: Connection, id: String) throws -> Row? {
        try db.execute("SELECT \(itemColumns) FROM work_items w JOIN jobs j ON j.id = w.job_id WHERE w.id = ?", [.text(id)]).first
    }

    /// The items of a job in spec order, optionally only those with `status`.
    package func items(jobID: UUID, status: WorkItemStatus? = nil) throws -> [WorkItem] {
        try reader.sync { db in try Self.items(db, jobID: jobID, status: status) }
    }

    /// As `items(jobID:status:)`, from async code.
    package func items(jobID: UUID, status: WorkItemStatus? = nil) async throws -> [WorkItem] {
        try await reader.run { db in try Self.items(db, jobID: jobID, status: status) }
    }

    private static func items(_ db: Connection, jobID: UUID, status: WorkItemStatus?) throws -> [WorkItem] {
        try db.execute("""
            SELECT \(itemColumns) FROM work_items w JOIN jobs j ON j.id = w.job_id
            WHERE w.job_id = ? AND (? IS NULL OR w.status = ?) ORDER BY w.position
            """, [.text(jobID.uuidString.lowercased()), SQLValue(status?.rawValue), SQLValue(status?.rawValue)])
            .map(decodeItem)
    }

    /// The item's history, oldest first.
    package func events(itemID: UUID) async throws -> [ItemEvent] {
        try await reader.run { db in
            try db.execute("SELECT * FROM events WHERE item_id = ? ORDER BY id", [.text(itemID.uuidString.lowercased())])
                .map { Self.decodeEvent($0, itemID: itemID) }
        }
    }

    /// An `events` row of item `itemID` (both stores' tables have the same columns).
    package static func decodeEvent(_ row: Row, itemID: UUID) -> ItemEvent {
        ItemEvent(
            id: row.int64("id") ?? 0,
            itemID: itemID,
            attempt: row.int("attempt"),
            from: row.string("from_status").flatMap(WorkItemStatus.init(rawValue:)),
            to: WorkItemStatus(rawValue: row.string("to_status") ?? "") ?? .pending,
            mode: row.string("mode").flatMap(RetryMode.init(rawValue:)),
            error: row.string("error"),
            errorKind: row.string("error_kind").flatMap(ErrorKind.init(rawValue:)),
            at: Date(timeIntervalSince1970: row.double("at") ?? 0))
    }

    /// Claims the next runnable item of a job for `owner`: the first `pending` item whose back-off
    /// has passed becomes `running` under a lease, in one transaction, so two workers never claim
    /// the same item. `onClaim` runs inside that transaction, before it commits.
    ///
    /// Invariant 4 is checked here, where it cannot be raced: an item whose checkpoints were made
    /// under other parameters than the job's current ones (the spec was submitted again while the
    /// item waited for a recover, or in an automatic retry's back-off) restarts instead of resuming:
    /// its checkpoints and staged documents go, its sink output is reset, and the claim's event says why.
    ///
    /// Claims go through the group commit, like checkpoints: the claims of several slots that
    /// arrive together (and the finishes they follow) share one transaction, each in its own
    /// savepoint, and each claims for a thread that starts on its item at once (invariant 8: no
    /// item is leased ahead of a thread to work on it). The second claim of a group sees the first's
    /// update and takes the next item.
    package func claimNext(jobID: UUID, specVersion: Int, owner: String, leaseSeconds: Double, sync: SyncMode,
                   onClaim: @escaping @Sendable (String) -> Void) throws -> Claim {
        try checkpoints.write(sync: sync) { db in
            let now = Self.now
            let job = jobID.uuidString.lowercased()
            guard let jobRow = try db.execute("SELECT spec_version, submit_state FROM jobs WHERE id = ?", [.text(job)]).first
            else { return .nothing }
            // A new spec version being applied: its items are half old, half new until it is current.
            // A new job (version 0) has nothing runnable until its submit ends.
            guard jobRow.string("submit_state") != "applying", jobRow.int("spec_version") > 0 else { return .nothing }
            guard jobRow.int("spec_version") == specVersion else { return .specChanged }
            guard let row = try db.execute("""
                SELECT id, params_fingerprint, checkpoint_fingerprint FROM work_items
                WHERE job_id = ? AND status = 'pending' AND (not_before IS NULL OR not_before <= ?)
                AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = work_items.job_id AND jobs.cancelled = 1)
                ORDER BY position LIMIT 1
                """, [.text(job), .real(now)]).first, let id = row.string("id")
            else { return .nothing }
            let made = row.string("checkpoint_fingerprint")
            let parametersChanged = made != nil && made != row.string("params_fingerprint")
            if parametersChanged {
                try Self.clearForRestart(db, id: id)
                try db.execute("UPDATE work_items SET retry_mode = 'restart' WHERE id = ?", [.text(id)])
            }
            // What the item staged before (a restart above kept nothing) is what this run does not collect again.
            try db.execute("""
                UPDATE work_items SET status = 'running', lease_owner = ?, lease_expires_at = ?, not_before = NULL,
                checkpoint_fingerprint = COALESCE(checkpoint_fingerprint, params_fingerprint), updated_at = ?,
                not_collected_again = not_collected_again + collected
                WHERE id = ?
                """, [.text(owner), .real(now + leaseSeconds), .real(now), .text(id)])
            guard let itemRow = try Self.itemRow(db, id: id) else {
                preconditionFailure("claimed item \(id) vanished inside its own transaction")
            }
            let item = try Self.decodeItem(itemRow)
            try Self.recordEvent(db, itemID: id, jobID: job, attempt: item.attempt, from: .pending, to: .running,
                                 mode: parametersChanged ? .restart : nil,
                                 error: parametersChanged ? Self.restartedForChangedParameters : nil)
            let checkpoints = try db.execute("SELECT phase, cursor, sink_offset FROM checkpoints WHERE item_id = ?", [.text(id)])
            let collect = checkpoints.first { $0.string("phase") == Phase.collect.rawValue }
            let ingest = checkpoints.first { $0.string("phase") == Phase.ingest.rawValue }
            onClaim(id)
            return .claimed(ClaimedItem(item: item, automaticAttempts: itemRow.int("automatic_attempts"),
                                        needsSinkReset: itemRow.int("needs_sink_reset") != 0,
                                        collectCursor: collect?.string("cursor"), sinkOffset: ingest?.int64("sink_offset"),
                                        restartedForChangedParameters: parametersChanged))
        }
    }

    /// The history's note on a claim that restarted an item instead of resuming it (invariant 4).
    package static let restartedForChangedParameters =
        "parameters changed since its checkpoints were made: restarted from scratch instead of resuming"

    /// When the next back-off of a job's pending items ends, and whether any item is pending at all.
    package func pendingState(jobID: UUID) throws -> (pending: Int, earliestNotBefore: Double?) {
        try reader.sync { db in
            // The count is the job's counter; the back-off's end comes from a partial index of the
            // items waiting in one: neither reads the job's other items.
            let row = try db.execute("""
                SELECT j.pending_items AS n, (SELECT MIN(w.not_before) FROM work_items w WHERE w.job_id = j.id
                AND w.status = 'pending' AND w.not_before IS NOT NULL) AS earliest
                FROM jobs j WHERE j.id = ? AND j.cancelled = 0
                """, [.text(jobID.uuidString.lowercased())]).first
            return (row?.int("n") ?? 0, row?.double("earliest"))
        }
    }

    /// Appends one transition to the history. Called inside the transaction that makes the transition.
    static func recordEvent(
        _ db: Connection, itemID: String, jobID: String, attempt: Int, from: WorkItemStatus?, to: WorkItemStatus,
        mode: RetryMode? = nil, error: String? = nil, errorKind: ErrorKind? = nil
    ) throws {
        try db.execute("""
            INSERT INTO events (item_id, job_id, attempt, from_status, to_status, mode, error, error_kind, at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(itemID), .text(jobID), .integer(Int64(attempt)), SQLValue(from?.rawValue), .text(to.rawValue),
                  SQLValue(mode?.rawValue), SQLValue(error), SQLValue(errorKind?.rawValue), .real(now)])
    }

    /// A column's value as `T`, or an error naming the table, column and value: a row that does not
    /// decode means a damaged store, and inventing a value (a fresh UUID, `pending`) would hide it.
    package static func decoded<T>(_ row: Row, _ column: String, in table: String, as parse: (String) -> T?) throws -> T {
        let text = row.string(column) ?? ""
        guard let value = parse(text) else {
            throw EngineError(.storeUnusable, "the store is damaged: \(table).\(column) holds '\(text)', which this engine cannot read")
        }
        return value
    }

    /// An item row's `params_json` as the object it was stored as.
    package static func decodeParams(_ row: Row) throws -> [String: JSONValue] {
        guard case .object(let params) = try JSONValue.parse(row.data("params_json") ?? Data("{}".utf8)) else { return [:] }
        return params
    }

    package static func decodeItem(_ row: Row) throws -> WorkItem {
        let params = try decodeParams(row)
        return WorkItem(
            id: try decoded(row, "id", in: "work_items", as: UUID.init(uuidString:)),
            jobID: try decoded(row, "job_id", in: "work_items", as: UUID.init(uuidString:)),
            jobName: row.string("job_name") ?? "",
            name: row.string("name") ?? "",
            status: try decoded(row, "status", in: "work_items", as: WorkItemStatus.init(rawValue:)),
            phase: try decoded(row, "phase", in: "work_items", as: Phase.init(rawValue:)),
            attempt: row.int("attempt"),
            collected: row.int("collected"),
            ingested: row.int("ingested"),
            collectedTotal: row.int("collected_total"),
            notCollectedAgain: row.int("not_collected_again"),
            lastError: row.string("last_error"),
            errorKind: row.string("error_kind").flatMap(ErrorKind.init(rawValue:)),
            retryMode: row.string("retry_mode").flatMap(RetryMode.init(rawValue:)),
            leaseOwner: row.string("lease_owner"),
            parameters: params,
            updatedAt: Date(timeIntervalSince1970: row.double("updated_at") ?? 0),
            progressNote: row.string("status") == WorkItemStatus.running.rawValue ? row.string("progress_note") : nil)
    }
}
