import Foundation
import JobEngine

/// Jobs, items and their standing, read as the SQLite store reads them (decoded by the same code).
extension PostgresStore {
    package func job(_ idOrName: String) throws -> Job? {
        try sessions.withSession { db in try Self.job(db, idOrName: idOrName) }
    }

    package func job(_ idOrName: String) async throws -> Job? {
        try await sessions.read { db in try Self.job(db, idOrName: idOrName) }
    }

    package func runtimeJob(_ id: UUID) async throws -> Job? {
        try await sessions.read { db in
            try db.execute("SELECT * FROM jobs WHERE id = $1", [.text(id.uuidString.lowercased())]).first.map(Store.decodeJob)
        }
    }

    static func job(_ db: PostgresSession, idOrName: String) throws -> Job? {
        try db.execute("SELECT * FROM jobs WHERE id = $1", [.text(idOrName.lowercased())]).first.map(Store.decodeJob)
            ?? db.execute("SELECT * FROM jobs WHERE name = $1", [.text(idOrName)]).first.map(Store.decodeJob)
    }

    package func jobs() async throws -> [Job] {
        try await sessions.read { db in try db.execute("SELECT * FROM jobs ORDER BY created_at, name").map(Store.decodeJob) }
    }

    /// Marks a job cancelled and its pending items `cancelled`, set-based, in one transaction.
    package func cancelJob(_ jobID: UUID) async throws -> Int {
        try await sessions.transactionAnsweredOnce { db in
            let id = jobID.uuidString.lowercased()
            try db.execute("UPDATE jobs SET cancelled = 1, updated_at = \(Self.now) WHERE id = $1", [.text(id)])
            try db.execute("""
                INSERT INTO events (item_id, job_id, attempt, from_status, to_status, host, at)
                SELECT id, job_id, attempt, 'pending', 'cancelled', $2, \(Self.now) FROM work_items WHERE job_id = $1 AND status = 'pending'
                """, [.text(id), .text(self.host)])
            return try db.change("UPDATE work_items SET status = 'cancelled', updated_at = \(Self.now) WHERE job_id = $1 AND status = 'pending'",
                                 [.text(id)])
        }
    }

    /// A submit is one transaction here: none is ever left unfinished.
    package func unfinishedSubmits() throws -> [UnfinishedSubmit] { [] }

    package func endUnfinishedSubmit(_ submit: UnfinishedSubmit, by owner: String) async throws {}

    package func item(_ id: UUID) async throws -> WorkItem? {
        try await sessions.read { db in try Self.itemRow(db, id: id.uuidString.lowercased()).map(Store.decodeItem) }
    }

    package func items(jobID: UUID, status: WorkItemStatus?) throws -> [WorkItem] {
        try sessions.withSession { db in try Self.items(db, jobID: jobID, status: status) }
    }

    package func items(jobID: UUID, status: WorkItemStatus?) async throws -> [WorkItem] {
        try await sessions.read { db in try Self.items(db, jobID: jobID, status: status) }
    }

    private static func items(_ db: PostgresSession, jobID: UUID, status: WorkItemStatus?) throws -> [WorkItem] {
        let job: SQLValue = .text(jobID.uuidString.lowercased())
        let rows = try status.map { status in
            try db.execute("""
                SELECT \(Store.itemColumns) FROM work_items w JOIN jobs j ON j.id = w.job_id
                WHERE w.job_id = $1 AND w.status = $2 ORDER BY w.position
                """, [job, .text(status.rawValue)])
        } ?? db.execute("""
            SELECT \(Store.itemColumns) FROM work_items w JOIN jobs j ON j.id = w.job_id WHERE w.job_id = $1 ORDER BY w.position
            """, [job])
        return try rows.map(Store.decodeItem)
    }

    package func allItems(status: WorkItemStatus?) async throws -> [WorkItem] {
        try await sessions.read { db in
            try db.execute("""
                SELECT \(Store.itemColumns) FROM work_items w JOIN jobs j ON j.id = w.job_id
                WHERE ($1::text IS NULL OR w.status = $1::text) ORDER BY j.created_at, j.name, w.position
                """, [SQLValue(status?.rawValue)]).map(Store.decodeItem)
        }
    }

    /// Keyset pages on (job, status, position), (job, position) or, for failed items of a kind, the
    /// partial index of those; a page narrowed by error text looks at no more than `scanLimit` items
    /// (as the SQLite store pages).
    package func itemsPage(jobID: UUID, status: WorkItemStatus?, errorKind: ErrorKind?, errorContains: String?, after: Int?,
                           limit: Int, scanLimit: Int) async throws -> WorkItemPage {
        precondition(scanLimit >= 1, "a page looks at one item at least")
        return try await sessions.read { db in
            let walk = ItemWalk(status: status, errorKind: errorKind, errorContains: errorContains, namesIndex: false,
                                placeholder: { "$\($0)" }, contains: Self.containsText)
            let start: [SQLValue] = [.text(jobID.uuidString.lowercased()), .integer(Int64(after ?? -1))] + walk.alongValues
            let end = try walk.lookEnd(scanLimit).flatMap { try db.execute($0, start).first?.int64("position") }
            let rows = try db.execute("""
                SELECT \(Store.itemColumns), w.position FROM \(walk.source) JOIN jobs j ON j.id = w.job_id
                WHERE \(walk.conditions(upTo: end)) ORDER BY w.position LIMIT \(limit + 1)
                """, start + walk.narrowingValues)
            let page = rows.prefix(limit)
            return WorkItemPage(items: try page.map(Store.decodeItem), nextAfter: rows.count > limit ? page.last?.int("position") : end.map(Int.init))
        }
    }

    package func checkpoints(itemID: UUID) async throws -> [Checkpoint] {
        try await sessions.read { db in
            try db.execute("""
                SELECT phase, cursor, documents, sink_offset, updated_at FROM checkpoints WHERE item_id = $1
                ORDER BY CASE phase WHEN 'collect' THEN 0 ELSE 1 END
                """, [.text(itemID.uuidString.lowercased())]).compactMap(Store.decodeCheckpoint)
        }
    }

    package func jobStatuses() async throws -> [JobStatus] {
        try await sessions.read { db in try db.execute("SELECT * FROM job_standing ORDER BY created_at, name").map(Store.decodeStatus) }
    }

    package func jobStatus(_ jobID: UUID) async throws -> JobStatus? {
        try await sessions.read { db in
            try db.execute("SELECT * FROM job_standing WHERE id = $1", [.text(jobID.uuidString.lowercased())]).first.map(Store.decodeStatus)
        }
    }

    package func failedItemKinds() async throws -> [ErrorKind?: Int] {
        try await sessions.read { db in Store.failedItemKinds(try db.execute(Store.failedItemKindsSQL)) }
    }

    package func itemCounts() async throws -> [WorkItemStatus: Int] {
        try await sessions.read { db in
            guard let row = try db.execute("""
                SELECT SUM(pending_items)::bigint AS pending, SUM(running_items)::bigint AS running,
                SUM(succeeded_items)::bigint AS succeeded, SUM(failed_items)::bigint AS failed,
                SUM(cancelled_items)::bigint AS cancelled FROM job_counters
                """).first else { return [:] }
            var counts: [WorkItemStatus: Int] = [:]
            for status in WorkItemStatus.allCases where row.int(status.rawValue) > 0 { counts[status] = row.int(status.rawValue) }
            return counts
        }
    }

    package func jobsWithPendingItems() async throws -> [UUID] {
        try await sessions.read { db in
            try db.execute("SELECT id FROM job_standing WHERE pending_items > 0 AND cancelled = 0 ORDER BY created_at")
                .compactMap { $0.string("id").flatMap(UUID.init(uuidString:)) }
        }
    }

    package func interruptedItems() throws -> [UUID] {
        try sessions.withSession { db in
            try db.execute("""
                SELECT w.id FROM work_items w JOIN jobs j ON j.id = w.job_id
                WHERE w.status = 'failed' AND w.error_kind = 'interrupted' AND j.cancelled = 0
                """).compactMap { $0.string("id").flatMap(UUID.init(uuidString:)) }
        }
    }

    package func retryableItems(jobID: UUID) throws -> [UUID] {
        try sessions.withSession { db in
            try db.execute("""
                SELECT id FROM work_items WHERE job_id = $1 AND status IN ('failed', 'cancelled')
                AND error_kind IS DISTINCT FROM 'crash_loop' ORDER BY position
                """,
                           [.text(jobID.uuidString.lowercased())]).compactMap { $0.string("id").flatMap(UUID.init(uuidString:)) }
        }
    }
}
