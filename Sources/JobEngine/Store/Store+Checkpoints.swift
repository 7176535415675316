import Foundation

/// The item is no longer this worker's: another worker judged it dead and took it over. The
/// runner stops without writing anything more.
package struct LeaseLost: Error, CustomStringConvertible {
    package let itemID: String
    package var description: String { "work item \(itemID) is no longer leased to this worker" }

    package init(itemID: String) { self.itemID = itemID }
}

/// What a checkpoint commit learned that the runner acts on.
package struct CheckpointOutcome: Sendable {
    /// The job was cancelled (possibly by another process): stop at this checkpoint.
    package let jobCancelled: Bool

    package init(jobCancelled: Bool) { self.jobCancelled = jobCancelled }
}

extension Store {
    /// Invariant 1: stages a collected page and advances the collect cursor in one transaction, or
    /// neither. The last page (`nextCursor == nil`) also moves the item to the ingest phase.
    package func commitPage(
        itemID: String, owner: String, firstSeq: Int, documents: [Document], nextCursor: String?, note: String?, sync: SyncMode
    ) throws -> CheckpointOutcome {
        try checkpoints.write(sync: sync) { db in
            let now = Self.now
            try db.executeEach("INSERT INTO staged_documents (item_id, seq, key, body) VALUES (?, ?, ?, ?)",
                               documents.enumerated()) { offset, document in
                [.text(itemID), .integer(Int64(firstSeq + offset)), .text(document.key), .blob(document.body)]
            }
            let collected = firstSeq + documents.count
            try db.execute("""
                INSERT INTO checkpoints (item_id, phase, cursor, documents, updated_at) VALUES (?, 'collect', ?, ?, ?)
                ON CONFLICT (item_id, phase) DO UPDATE SET cursor = excluded.cursor, documents = excluded.documents,
                updated_at = excluded.updated_at
                """, [.text(itemID), SQLValue(nextCursor), .integer(Int64(collected)), .real(now)])
            try db.execute("""
                UPDATE work_items SET collected = ?, collected_total = collected_total + ?, phase = ?, progress_at = ?,
                updated_at = ?, progress_note = ? WHERE id = ? AND status = 'running' AND lease_owner = ?
                """, [.integer(Int64(collected)), .integer(Int64(documents.count)),
                      .text(nextCursor == nil ? Phase.ingest.rawValue : Phase.collect.rawValue), .real(now), .real(now),
                      SQLValue(note), .text(itemID), .text(owner)])
            guard db.changes == 1 else { throw LeaseLost(itemID: itemID) }
            return CheckpointOutcome(jobCancelled: try Self.isJobCancelled(db, itemID: itemID))
        }
    }

    /// The staged documents of an item from `seq` on, at most `limit` of them, in order.
    ///
    /// Read through the writer connection, not the reader: the pages were written moments ago by
    /// the writer and sit in its cache, while the reader would have to fetch them again from the WAL
    /// with a read(2) per page (measured with engine-bench: 7.5 s → 7.1 s on the reference workload).
    package func stagedDocuments(itemID: String, from seq: Int, limit: Int) throws -> [SequencedDocument] {
        try writer.sync { db in
            try db.map("SELECT seq, key, body FROM staged_documents WHERE item_id = ? AND seq >= ? ORDER BY seq LIMIT ?",
                       [.text(itemID), .integer(Int64(seq)), .integer(Int64(limit))]) { row in
                SequencedDocument(seq: row.int(0), document: Document(key: row.text(1), body: row.data(2)))
            }
        }
    }

    /// Invariant 1: records a delivered batch. Called only after the sink write returned, so the
    /// checkpoint never runs ahead of the sink. The staged copies of the delivered documents go in
    /// the same transaction: no retry can need them again (recover resumes after them, restart
    /// collects anew), and deleting them batch by batch keeps the staging table as small as the
    /// work still to do, instead of paying for one large delete when the item finishes.
    package func commitBatch(itemID: String, owner: String, ingested: Int, sinkOffset: Int64?, sync: SyncMode) throws -> CheckpointOutcome {
        try checkpoints.write(sync: sync) { db in
            try Self.recordBatch(db, itemID: itemID, owner: owner, ingested: ingested, sinkOffset: sinkOffset)
            return CheckpointOutcome(jobCancelled: try Self.isJobCancelled(db, itemID: itemID))
        }
    }

    /// Records the item's last batch (as `commitBatch`) and finishes the item (as `finish`) in one
    /// transaction: a small item pays one commit less, and a crash between the two leaves nothing
    /// that needs a recover to tie up.
    package func finishAfterBatch(itemID: String, owner: String, ingested: Int, sinkOffset: Int64?, sync: SyncMode) throws -> WorkItem {
        try succeed(itemID: itemID, owner: owner, sync: sync) { db in
            try Self.recordBatch(db, itemID: itemID, owner: owner, ingested: ingested, sinkOffset: sinkOffset)
        }
    }

    /// The ingest checkpoint of a delivered batch, its counters, and the staged copies it made useless.
    private static func recordBatch(_ db: Connection, itemID: String, owner: String, ingested: Int, sinkOffset: Int64?) throws {
        let now = Self.now
        try db.execute("""
            INSERT INTO checkpoints (item_id, phase, documents, sink_offset, updated_at) VALUES (?, 'ingest', ?, ?, ?)
            ON CONFLICT (item_id, phase) DO UPDATE SET documents = excluded.documents,
            sink_offset = excluded.sink_offset, updated_at = excluded.updated_at
            """, [.text(itemID), .integer(Int64(ingested)), SQLValue(sinkOffset), .real(now)])
        try db.execute("""
            UPDATE work_items SET ingested = ?, progress_at = ?, updated_at = ?
            WHERE id = ? AND status = 'running' AND lease_owner = ?
            """, [.integer(Int64(ingested)), .real(now), .real(now), .text(itemID), .text(owner)])
        guard db.changes == 1 else { throw LeaseLost(itemID: itemID) }
        try db.execute("DELETE FROM staged_documents WHERE item_id = ? AND seq < ?", [.text(itemID), .integer(Int64(ingested))])
    }

    /// A restart's sink reset is done; a crash before this line repeats it, which is harmless.
    package func clearSinkReset(itemID: String, owner: String) throws {
        try writer.write { db in
            try db.execute("UPDATE work_items SET needs_sink_reset = 0 WHERE id = ? AND lease_owner = ?",
                           [.text(itemID), .text(owner)])
        }
    }

    /// The item finished both phases: `succeeded`, lease released, any staged documents left dropped
    /// (normally none: each batch's checkpoint removed its own).
    package func finish(itemID: String, owner: String, sync: SyncMode) throws -> WorkItem {
        try succeed(itemID: itemID, owner: owner, sync: sync)
    }

    /// `succeeded`, after `first` (the last batch's checkpoint, if it comes with the finish), with
    /// the item's staged documents dropped, in one transaction.
    private func succeed(itemID: String, owner: String, sync: SyncMode,
                         first: @escaping @Sendable (Connection) throws -> Void = { _ in }) throws -> WorkItem {
        try transition(itemID: itemID, owner: owner, to: .succeeded, phase: .done, sync: sync, first: first, then: { db in
            try db.execute("DELETE FROM staged_documents WHERE item_id = ?", [.text(itemID)])
        })
    }

    /// The running item stops as `failed` (with the error and its kind) or `cancelled`. With
    /// `retry`, an automatic retry is queued in the same transaction, unless the job was cancelled
    /// meanwhile: after a cancel only a manual retry re-opens the job's items.
    package func stop(
        itemID: String, owner: String, as status: WorkItemStatus, error: String?, kind: ErrorKind?,
        retry: (mode: RetryMode, notBefore: Double)?, sync: SyncMode
    ) throws -> WorkItem {
        let retryStarted = Locked(false)
        let item = try transition(itemID: itemID, owner: owner, to: status, error: error, kind: kind, sync: sync, then: { db in
            if let retry, case .started = try Self.startRetry(db, id: itemID, mode: retry.mode, origin: .automatic,
                                                               notBefore: retry.notBefore) {
                retryStarted.withLock { $0 = true }
            }
        })
        // Counted once committed, as `retry(_:mode:origin:)` counts the manual ones.
        if let retry, retryStarted.withLock({ $0 }) { EngineMetrics.retriesStarted(1, mode: retry.mode, origin: .automatic) }
        return item
    }

    /// Moves a running item of `owner` to a final status, with its event, in one transaction, shared
    /// through the group commit with the checkpoints and claims of other slots.
    private func transition(
        itemID: String, owner: String, to status: WorkItemStatus, phase: Phase? = nil, error: String? = nil,
        kind: ErrorKind? = nil, sync: SyncMode, first: @escaping @Sendable (Connection) throws -> Void = { _ in },
        then: @escaping @Sendable (Connection) throws -> Void
    ) throws -> WorkItem {
        let item = try checkpoints.write(sync: sync) { db in
            try first(db)
            try db.execute("""
                UPDATE work_items SET status = ?, phase = COALESCE(?, phase), last_error = ?, error_kind = ?,
                lease_owner = NULL, lease_expires_at = NULL, interruptions = 0, updated_at = ?
                WHERE id = ? AND status = 'running' AND lease_owner = ?
                """, [.text(status.rawValue), SQLValue(phase?.rawValue), SQLValue(error), SQLValue(kind?.rawValue),
                      .real(Self.now), .text(itemID), .text(owner)])
            guard db.changes == 1 else { throw LeaseLost(itemID: itemID) }
            let row = try db.execute("SELECT job_id, attempt FROM work_items WHERE id = ?", [.text(itemID)]).first
            try Self.recordEvent(db, itemID: itemID, jobID: row?.string("job_id") ?? "", attempt: row?.int("attempt") ?? 0,
                                 from: .running, to: status, error: error, errorKind: kind)
            try then(db)
            guard let row = try Self.itemRow(db, id: itemID) else {
                preconditionFailure("work item \(itemID) vanished inside its own transaction")
            }
            return try Self.decodeItem(row)
        }
        // By how it ended (`failed` also when an automatic retry was queued), once committed.
        EngineMetrics.itemStopped(status)
        return item
    }

    static func isJobCancelled(_ db: Connection, itemID: String) throws -> Bool {
        try db.execute("SELECT j.cancelled FROM jobs j JOIN work_items w ON w.job_id = j.id WHERE w.id = ?",
                       [.text(itemID)]).first?.int("cancelled") == 1
    }
}
