import Foundation

extension Store {
    package func recordActivitySamples() async throws {
        try await Self.waitingOutContention {
            try await writer.write { db in
                let now = Self.now
                // Active jobs, and finished ones whose totals moved since their last sample (the
                // last stretch of a run that ended between two samples).
                try db.execute("""
                    INSERT OR IGNORE INTO job_samples (job_id, at, collected_total, ingested)
                    SELECT id, ?, collected_total, ingested FROM jobs j WHERE spec_version > 0 AND (pending_items + running_items > 0
                    OR NOT EXISTS (SELECT 1 FROM job_samples s WHERE s.job_id = j.id AND s.collected_total = j.collected_total
                                   AND s.ingested = j.ingested
                                   AND s.at = (SELECT MAX(at) FROM job_samples m WHERE m.job_id = j.id)))
                    """, [.real(now)])
                try db.execute("""
                    DELETE FROM job_samples WHERE (job_id, at) IN (SELECT job_id, at FROM job_samples WHERE at < ? LIMIT 1000)
                    """, [.real(now - 86_400)])
            }
        }
    }

    package func activity(jobID: UUID, since: Date) async throws -> JobActivity {
        try await reader.run { db in
            let job: SQLValue = .text(jobID.uuidString.lowercased())
            let from: SQLValue = .real(since.timeIntervalSince1970)
            let now = Self.now
            let samples = try db.execute("""
                SELECT at, collected_total, ingested FROM job_samples WHERE job_id = ? AND at >= ? ORDER BY at
                """, [job, from]).map(JobActivity.Sample.init(row:))
            let failures = try db.execute("""
                SELECT CAST(at / 60 AS INTEGER) * 60 AS minute, error_kind, COUNT(*) AS n FROM events
                WHERE job_id = ? AND at >= ? AND to_status = 'failed' GROUP BY minute, error_kind ORDER BY minute, error_kind
                """, [job, from]).map(JobActivity.Failures.init(row:))
            let succeeded = try db.execute("""
                SELECT COUNT(*) AS n FROM events WHERE job_id = ? AND at >= ? AND to_status = 'succeeded'
                """, [job, .real(now - JobActivity.recentSeconds)]).first?.int("n") ?? 0
            let left = try db.execute("SELECT pending_items + running_items AS n FROM jobs WHERE id = ?", [job]).first?.int("n") ?? 0
            return JobActivity(since: since, until: Date(timeIntervalSince1970: now), samples: samples, failures: failures,
                               recentlySucceeded: succeeded, itemsLeft: left)
        }
    }
}
