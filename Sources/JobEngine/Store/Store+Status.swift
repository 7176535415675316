import Foundation

extension Store {
    /// Every job's standing, oldest job first: one row per job (the counters the item triggers
    /// keep, schema/003_scale.sql), whatever its item count.
    package func jobStatuses() async throws -> [JobStatus] {
        try await reader.run { db in
            try db.execute("SELECT * FROM jobs WHERE spec_version > 0 ORDER BY created_at, name").map(Self.decodeStatus)
        }
    }

    /// One job's standing, or nil for an unknown id.
    package func jobStatus(_ jobID: UUID) async throws -> JobStatus? {
        try await reader.run { db in
            try db.execute("SELECT * FROM jobs WHERE id = ? AND spec_version > 0", [.text(jobID.uuidString.lowercased())])
                .first.map(Self.decodeStatus)
        }
    }

    package static func decodeStatus(_ row: Row) throws -> JobStatus {
        var counts: [WorkItemStatus: Int] = [:]
        for status in WorkItemStatus.allCases {
            let count = row.int("\(status.rawValue)_items")
            if count > 0 { counts[status] = count }
        }
        return JobStatus(job: try decodeJob(row), counts: counts, collected: row.int("collected"), ingested: row.int("ingested"),
                         collectedTotal: row.int("collected_total"),
                         lastProgress: row.double("progress_at").map(Date.init(timeIntervalSince1970:)))
    }

    /// Items of every job (or of one), optionally only those with `status`, in job then spec order.
    package func allItems(status: WorkItemStatus? = nil) async throws -> [WorkItem] {
        try await reader.run { db in
            try db.execute("""
                SELECT \(Self.itemColumns) FROM work_items w JOIN jobs j ON j.id = w.job_id
                WHERE (? IS NULL OR w.status = ?) AND j.spec_version > 0 ORDER BY j.created_at, j.name, w.position
                """, [SQLValue(status?.rawValue), SQLValue(status?.rawValue)]).map(Self.decodeItem)
        }
    }

    /// Ids of the jobs that have pending items (queued retries, new items), oldest job first.
    package func jobsWithPendingItems() async throws -> [UUID] {
        try await reader.run { db in
            try db.execute("""
                SELECT id FROM jobs WHERE pending_items > 0 AND cancelled = 0 AND spec_version > 0 ORDER BY created_at
                """).compactMap { $0.string("id").flatMap(UUID.init(uuidString:)) }
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

    /// The ids of a job's failed and cancelled items, in spec order (the status index; nothing else is
    /// read), except poison items (`crash_loop`): a re-run of the spec (a cron, say) must not launch
    /// them again; only an explicit retry does.
    package func retryableItems(jobID: UUID) throws -> [UUID] {
        try reader.sync { db in
            try db.execute("""
                SELECT id FROM work_items WHERE job_id = ? AND status IN ('failed', 'cancelled')
                AND error_kind IS NOT 'crash_loop' ORDER BY position
                """, [.text(jobID.uuidString.lowercased())]).compactMap { $0.string("id").flatMap(UUID.init(uuidString:)) }
        }
    }
}
