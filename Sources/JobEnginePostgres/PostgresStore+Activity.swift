import Foundation
import JobEngine

extension PostgresStore {
    package func recordActivitySamples() async throws {
        try await sessions.transaction { db in
            try db.execute("""
                INSERT INTO job_samples (job_id, at, collected_total, ingested)
                SELECT id, \(Self.now), collected_total, ingested FROM job_standing j WHERE pending_items + running_items > 0
                OR NOT EXISTS (SELECT 1 FROM job_samples s WHERE s.job_id = j.id AND s.collected_total = j.collected_total
                               AND s.ingested = j.ingested
                               AND s.at = (SELECT MAX(at) FROM job_samples m WHERE m.job_id = j.id))
                ON CONFLICT DO NOTHING
                """)
            try db.execute("""
                DELETE FROM job_samples WHERE (job_id, at) IN
                (SELECT job_id, at FROM job_samples WHERE at < \(Self.now) - 86400 LIMIT 1000 FOR UPDATE SKIP LOCKED)
                """)
        }
    }

    package func activity(jobID: UUID, since: Date) async throws -> JobActivity {
        try await sessions.read { db in
            let job: SQLValue = .text(jobID.uuidString.lowercased())
            let from: SQLValue = .real(since.timeIntervalSince1970)
            let now = try db.execute("SELECT \(Self.now) AS now").first?.double("now") ?? Date().timeIntervalSince1970
            let samples = try db.execute("""
                SELECT at, collected_total, ingested FROM job_samples WHERE job_id = $1 AND at >= $2 ORDER BY at
                """, [job, from]).map(JobActivity.Sample.init(row:))
            let failures = try db.execute("""
                SELECT (floor(at / 60) * 60)::float8 AS minute, error_kind, COUNT(*) AS n FROM events
                WHERE job_id = $1 AND at >= $2 AND to_status = 'failed' GROUP BY 1, 2 ORDER BY 1, 2
                """, [job, from]).map(JobActivity.Failures.init(row:))
            let succeeded = try db.execute("""
                SELECT COUNT(*) AS n FROM events WHERE job_id = $1 AND at >= $2 AND to_status = 'succeeded'
                """, [job, .real(now - JobActivity.recentSeconds)]).first?.int("n") ?? 0
            let left = try db.execute("SELECT pending_items + running_items AS n FROM job_standing WHERE id = $1", [job]).first?.int("n") ?? 0
            return JobActivity(since: since, until: Date(timeIntervalSince1970: now), samples: samples, failures: failures,
                               recentlySucceeded: succeeded, itemsLeft: left)
        }
    }
}
