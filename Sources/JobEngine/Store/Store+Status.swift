import Foundation

extension Store {
    /// Every job's standing, oldest job first.
    package func jobStatuses() async throws -> [JobStatus] {
        try await reader.run { db in try Self.statuses(db, of: try Self.jobs(db), where: "1 = 1", []) }
    }

    /// One job's standing, or nil for an unknown id.
    package func jobStatus(_ jobID: UUID) async throws -> JobStatus? {
        try await reader.run { db in
            guard let job = try Self.job(db, where: "id = ?", .text(jobID.uuidString.lowercased())) else { return nil }
            return try Self.statuses(db, of: [job], where: "job_id = ?", [.text(jobID.uuidString.lowercased())]).first
        }
    }

    private static func statuses(_ db: Connection, of jobs: [Job], where condition: String, _ arguments: [SQLValue]) throws -> [JobStatus] {
        let rows = try db.execute("""
            SELECT job_id, status, COUNT(*) AS n, SUM(collected) AS collected, SUM(ingested) AS ingested,
            SUM(collected_total) AS collected_total, MAX(progress_at) AS progress
            FROM work_items WHERE \(condition) GROUP BY job_id, status
            """, arguments)
        return jobs.map { job in
            let mine = rows.filter { $0.string("job_id") == job.id.uuidString.lowercased() }
            var counts: [WorkItemStatus: Int] = [:]
            for row in mine {
                if let status = WorkItemStatus(rawValue: row.string("status") ?? "") { counts[status] = row.int("n") }
            }
            let progress = mine.compactMap { $0.double("progress") }.max()
            return JobStatus(job: job, counts: counts, collected: mine.map { $0.int("collected") }.reduce(0, +),
                             ingested: mine.map { $0.int("ingested") }.reduce(0, +),
                             collectedTotal: mine.map { $0.int("collected_total") }.reduce(0, +),
                             lastProgress: progress.map(Date.init(timeIntervalSince1970:)))
        }
    }

    /// Items of every job (or of one), optionally only those with `status`, in job then spec order.
    package func allItems(status: WorkItemStatus? = nil) async throws -> [WorkItem] {
        try await reader.run { db in
            try db.execute("""
                SELECT \(Self.itemColumns) FROM work_items w JOIN jobs j ON j.id = w.job_id
                WHERE (? IS NULL OR w.status = ?) ORDER BY j.created_at, j.name, w.position
                """, [SQLValue(status?.rawValue), SQLValue(status?.rawValue)]).map(Self.decodeItem)
        }
    }

    /// Ids of the jobs that have pending items (queued retries, new items), oldest job first.
    package func jobsWithPendingItems() async throws -> [UUID] {
        try await reader.run { db in
            try db.execute("""
                SELECT DISTINCT w.job_id FROM work_items w JOIN jobs j ON j.id = w.job_id
                WHERE w.status = 'pending' AND j.cancelled = 0 ORDER BY j.created_at
                """).compactMap { $0.string("job_id").flatMap(UUID.init(uuidString:)) }
        }
    }

    /// The failed items whose worker died or shut down (in jobs not cancelled).
    package func interruptedItems() throws -> [UUID] {
        try reader.sync { db in
            try db.execute("""
                SELECT w.id FROM work_items w JOIN jobs j ON j.id = w.job_id
                WHERE w.status = 'failed' AND w.error_kind = 'interrupted' AND j.cancelled = 0
                """)
                .compactMap { $0.string("id").flatMap(UUID.init(uuidString:)) }
        }
    }
}
