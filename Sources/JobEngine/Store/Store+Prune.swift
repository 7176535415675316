import Foundation

extension Store {
    /// Items removed per transaction: each step holds the write lock for milliseconds.
    static let pruneStep = 2_000

    /// Removes the finished jobs (every item `succeeded` or `cancelled`, no submit in progress)
    /// whose last change is older than `cutoff` (seconds since 1970): their items, events,
    /// checkpoints, staged documents and sink-target records, a step of items per transaction. The
    /// history's append-only trigger is lifted inside each step's transaction only.
    package func prune(finishedBefore cutoff: Double, dryRun: Bool) async throws -> PruneResult {
        let jobs = try await reader.run { db in
            try db.execute("""
                SELECT id, name, pending_items + running_items + succeeded_items + failed_items + cancelled_items AS items FROM jobs
                WHERE spec_version > 0 AND submit_state = 'ready' AND pending_items = 0 AND running_items = 0 AND failed_items = 0
                AND updated_at < ? AND COALESCE(progress_at, 0) < ? ORDER BY created_at
                """, [.real(cutoff), .real(cutoff)]).map { ($0.string("id") ?? "", $0.string("name") ?? "", $0.int("items")) }
        }
        guard !dryRun else { return PruneResult(jobs: jobs.map(\.1), items: jobs.map(\.2).reduce(0, +)) }
        var pruned: [String] = []
        var items = 0
        for (id, name, _) in jobs {
            while let removed = try await writer.write({ db in try Self.pruneStep(db, jobID: id, cutoff: cutoff) }) {
                items += removed
            }
            // Gone, unless work was queued for it meanwhile (then it stays, with what is left).
            if try await reader.run({ db in try db.execute("SELECT 1 FROM jobs WHERE id = ?", [.text(id)]).isEmpty }) {
                pruned.append(name)
            }
        }
        return PruneResult(jobs: pruned, items: items)
    }

    /// One step: up to `pruneStep` of the job's items, or, once none is left, the job itself; nil
    /// when the job is gone (or is no longer finished: work was queued for it meanwhile).
    private static func pruneStep(_ db: Connection, jobID: String, cutoff: Double) throws -> Int? {
        let job: SQLValue = .text(jobID)
        guard try !db.execute("""
            SELECT 1 FROM jobs WHERE id = ? AND pending_items = 0 AND running_items = 0 AND failed_items = 0 AND updated_at < ?
            """, [job, .real(cutoff)]).isEmpty else { return nil }
        try db.execute("DROP TRIGGER events_no_delete")
        let ids = try db.execute("SELECT id FROM work_items WHERE job_id = ? LIMIT ?", [job, .integer(Int64(pruneStep))]).map { $0["id"] }
        if ids.isEmpty {
            try db.execute("DELETE FROM events WHERE job_id = ?", [job])
            for table in ["fault_firings", "sink_targets", "submit_items"] {
                try db.execute("DELETE FROM \(table) WHERE job_id = ?", [job])
            }
            try db.execute("DELETE FROM jobs WHERE id = ?", [job])
        } else {
            let list = String(decoding: JSONValue.array(ids.compactMap { if case .text(let id) = $0 { .string(id) } else { nil } }).canonicalJSON(),
                              as: UTF8.self)
            for table in ["staged_documents", "checkpoints", "claimed_work", "events"] {
                try db.execute("DELETE FROM \(table) WHERE item_id IN (SELECT value FROM json_each(?))", [.text(list)])
            }
            try db.execute("DELETE FROM work_items WHERE id IN (SELECT value FROM json_each(?))", [.text(list)])
        }
        try db.execute("""
            CREATE TRIGGER events_no_delete BEFORE DELETE ON events
            BEGIN
                SELECT RAISE(ABORT, 'events are append-only');
            END
            """)
        return ids.isEmpty ? nil : ids.count
    }
}
