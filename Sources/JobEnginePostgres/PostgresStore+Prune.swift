import Foundation
import JobEngine
import PostgresNIO

extension PostgresStore {
    /// As the SQLite store prunes: finished jobs (every item `succeeded` or `cancelled`) whose last
    /// change is older than `cutoff`, a step of items per transaction. The events' append-only
    /// trigger lets a transaction delete only when it set `jobengine.pruning` for itself.
    package func prune(finishedBefore cutoff: Double, dryRun: Bool) async throws -> PruneResult {
        let jobs = try await sessions.read { db in
            try db.execute("""
                SELECT id, name, pending_items + running_items + succeeded_items + failed_items + cancelled_items AS items FROM job_standing
                WHERE pending_items = 0 AND running_items = 0 AND failed_items = 0 AND updated_at < $1 AND COALESCE(progress_at, 0) < $1
                ORDER BY created_at
                """, [.real(cutoff)]).map { ($0.string("id") ?? "", $0.string("name") ?? "", $0.int("items")) }
        }
        guard !dryRun else { return PruneResult(jobs: jobs.map(\.1), items: jobs.map(\.2).reduce(0, +)) }
        var pruned: [String] = []
        var items = 0
        for (id, name, _) in jobs {
            while let removed = try await sessions.transaction({ db in try Self.pruneStep(db, jobID: id, cutoff: cutoff) }) {
                items += removed
            }
            if try await sessions.read({ db in try db.execute("SELECT 1 FROM jobs WHERE id = $1", [.text(id)]).isEmpty }) {
                pruned.append(name)
            }
        }
        return PruneResult(jobs: pruned, items: items)
    }

    /// One step: up to 5,000 of the job's items, or, once none is left, the job; nil when the job is
    /// gone or no longer finished.
    private static func pruneStep(_ db: PostgresSession, jobID: String, cutoff: Double) throws -> Int? {
        let job: SQLValue = .text(jobID)
        // The job's row locked first (no retry or submit changes it meanwhile), then its standing checked.
        guard try !db.execute("SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE", [job]).isEmpty, try !db.execute("""
            SELECT 1 FROM job_standing WHERE id = $1 AND pending_items = 0 AND running_items = 0 AND failed_items = 0 AND updated_at < $2
            """, [job, .real(cutoff)]).isEmpty else { return nil }
        try db.execute("SET LOCAL jobengine.pruning = 'on'")
        var ids = PostgresBindings()
        ids.append(try db.execute("SELECT id FROM work_items WHERE job_id = $1 LIMIT 5000", [job]).compactMap { $0.string("id") })
        let count = try db.execute("SELECT cardinality($1::text[]) AS n", bindings: ids).first?.int("n") ?? 0
        guard count > 0 else {
            try db.execute("DELETE FROM events WHERE job_id = $1", [job])
            for table in ["fault_firings", "sink_targets", "job_counters"] { try db.execute("DELETE FROM \(table) WHERE job_id = $1", [job]) }
            try db.execute("DELETE FROM jobs WHERE id = $1", [job])
            return nil
        }
        for table in ["staged_documents", "checkpoints", "claimed_work", "events"] {
            try db.execute("DELETE FROM \(table) WHERE item_id = ANY($1::text[])", bindings: ids)
        }
        try db.execute("DELETE FROM work_items WHERE id = ANY($1::text[])", bindings: ids)
        return count
    }
}
