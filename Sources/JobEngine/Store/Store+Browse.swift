import Foundation

extension Store {
    /// Up to `limit` items of a job after spec position `after` (from the start when nil), optionally
    /// only those with `status` (and `errorKind`, and `errorContains` in their last error, in any
    /// case). Keyset paging on the (job, status, position) index: no offset scans, and items changing
    /// status between pages are neither skipped nor repeated by position. Failed items of one kind
    /// are walked along their own index (only failed items have a kind).
    ///
    /// A page narrowed by error text (or by kind, for items of another status) looks at no more than
    /// `scanLimit` items (``ItemWalk/pageScanLimit``): it may hold fewer than `limit` items, none even, and still have a
    /// `nextAfter`, where its look ended and the next page goes on. So a rare error text among a
    /// million failed items costs each page a bounded walk instead of one walk of every failed item.
    package func itemsPage(jobID: UUID, status: WorkItemStatus?, errorKind: ErrorKind?, errorContains: String?, after: Int?,
                           limit: Int, scanLimit: Int) async throws -> WorkItemPage {
        precondition(scanLimit >= 1, "a page looks at one item at least")
        return try await reader.run { db in
            let walk = ItemWalk(status: status, errorKind: errorKind, errorContains: errorContains, namesIndex: true,
                                placeholder: { _ in "?" }, contains: Self.containsText)
            // Each shape walks its index from the cursor: SQLite picks an index per statement, and
            // sorting the job's items instead took 185 ms at 1,000,000 items.
            let start: [SQLValue] = [.text(jobID.uuidString.lowercased()), .integer(Int64(after ?? -1))] + walk.alongValues
            let end = try walk.lookEnd(scanLimit).flatMap { try db.execute($0, start).first?.int64("position") }
            let rows = try db.execute("""
                SELECT \(Self.itemColumns), w.position FROM \(walk.source) JOIN jobs j ON j.id = w.job_id
                WHERE \(walk.conditions(upTo: end)) ORDER BY w.position LIMIT \(limit + 1)
                """, start + walk.narrowingValues)
            let page = rows.prefix(limit)
            return WorkItemPage(items: try page.map(Self.decodeItem), nextAfter: rows.count > limit ? page.last?.int("position") : end.map(Int.init))
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
