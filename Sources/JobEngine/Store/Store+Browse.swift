import Foundation

extension Store {
    /// Up to `limit` items of a job after spec position `after` (from the start when nil), optionally
    /// only those with `status` (and `errorKind`, and `errorContains` in their last error, in any
    /// case). Keyset paging on the (job, status, position) index: no offset scans, and items changing
    /// status between pages are neither skipped nor repeated by position.
    package func itemsPage(jobID: UUID, status: WorkItemStatus?, errorKind: ErrorKind?, errorContains: String?, after: Int?,
                           limit: Int) async throws -> WorkItemPage {
        try await reader.run { db in
            var narrowing = ""
            var values: [SQLValue] = []
            if let errorKind {
                narrowing += " AND w.error_kind = ?"
                values.append(.text(errorKind.rawValue))
            }
            if let errorContains {
                narrowing += " AND instr(lower(w.last_error), lower(?)) > 0"
                values.append(.text(errorContains))
            }
            // Two statements, not one with `? IS NULL OR status = ?`: SQLite picks an index per
            // statement, and only these exact shapes walk (job, status, position) or (job, position)
            // from the cursor instead of sorting the job's items (185 ms at 1,000,000 items).
            let job: SQLValue = .text(jobID.uuidString.lowercased())
            let bounds: [SQLValue] = [.integer(Int64(after ?? -1)), .integer(Int64(limit + 1))]
            let rows = try status.map { status in
                try db.execute("""
                    SELECT \(Self.itemColumns), w.position FROM work_items w JOIN jobs j ON j.id = w.job_id
                    WHERE w.job_id = ? AND w.status = ? AND w.position > ?\(narrowing) ORDER BY w.position LIMIT ?
                    """, [job, .text(status.rawValue), bounds[0]] + values + [bounds[1]])
            } ?? db.execute("""
                SELECT \(Self.itemColumns), w.position FROM work_items w JOIN jobs j ON j.id = w.job_id
                WHERE w.job_id = ? AND w.position > ?\(narrowing) ORDER BY w.position LIMIT ?
                """, [job, bounds[0]] + values + [bounds[1]])
            let page = rows.prefix(limit)
            let items = try page.map(Self.decodeItem)
            return WorkItemPage(items: items, nextAfter: rows.count > limit ? page.last?.int("position") : nil)
        }
    }

    /// The item's checkpoints, collect first; empty before its first page.
    package func checkpoints(itemID: UUID) async throws -> [Checkpoint] {
        try await reader.run { db in
            try db.execute("""
                SELECT phase, cursor, documents, sink_offset, updated_at FROM checkpoints WHERE item_id = ?
                ORDER BY CASE phase WHEN 'collect' THEN 0 ELSE 1 END
                """, [.text(itemID.uuidString.lowercased())]).compactMap(Self.decodeCheckpoint)
        }
    }

    /// A `checkpoints` row; nil for a phase this engine does not know.
    package static func decodeCheckpoint(_ row: Row) -> Checkpoint? {
        guard let phase = Phase(rawValue: row.string("phase") ?? "") else { return nil }
        return Checkpoint(phase: phase, cursor: row.string("cursor"), documents: row.int("documents"),
                          sinkOffset: row.int64("sink_offset"), updatedAt: Date(timeIntervalSince1970: row.double("updated_at") ?? 0))
    }

    /// Item counts per status over every job: what the `jobengine_work_items` gauge shows.
    package func failedItemKinds() async throws -> [ErrorKind?: Int] {
        try await reader.run { db in Self.failedItemKinds(try db.execute(Self.failedItemKindsSQL)) }
    }

    package func itemCounts() async throws -> [WorkItemStatus: Int] {
        try await reader.run { db in
            // The jobs' counters (kept by the item triggers): one row per job, not one per item. A
            // new job still being submitted is not counted: its items are not runnable yet.
            guard let row = try db.execute("""
                SELECT SUM(pending_items) AS pending, SUM(running_items) AS running, SUM(succeeded_items) AS succeeded,
                SUM(failed_items) AS failed, SUM(cancelled_items) AS cancelled FROM jobs WHERE spec_version > 0
                """).first else { return [:] }
            var counts: [WorkItemStatus: Int] = [:]
            for status in WorkItemStatus.allCases where row.int(status.rawValue) > 0 { counts[status] = row.int(status.rawValue) }
            return counts
        }
    }
}
