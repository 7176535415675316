import Foundation

extension Store {
    /// Extends the lease of every item `owner` is running: the heartbeat.
    func renewLeases(owner: String, leaseSeconds: Double) throws {
        try writer.write { db in
            try db.execute("UPDATE work_items SET lease_expires_at = ? WHERE status = 'running' AND lease_owner = ?",
                           [.real(Self.now + leaseSeconds), .text(owner)])
        }
    }

    /// The owners currently holding running items, with their latest lease expiry.
    func runningOwners() throws -> [(owner: String, expiresAt: Double)] {
        try reader.sync { db in
            try db.execute("""
                SELECT lease_owner, MAX(lease_expires_at) AS expires FROM work_items
                WHERE status = 'running' AND lease_owner IS NOT NULL GROUP BY lease_owner
                """).map { ($0.string("lease_owner") ?? "", $0.double("expires") ?? 0) }
        }
    }

    /// Marks every item `owner` was running as `failed` with kind `interrupted`: its worker died or
    /// stopped. Returns the ids of the items marked.
    func markInterrupted(owner: String, reason: String) throws -> [UUID] {
        try writer.write { db in
            let rows = try db.execute(
                "SELECT id, job_id, attempt FROM work_items WHERE status = 'running' AND lease_owner = ?", [.text(owner)])
            for row in rows {
                try db.execute("""
                    UPDATE work_items SET status = 'failed', error_kind = 'interrupted', last_error = ?, lease_owner = NULL,
                    lease_expires_at = NULL, updated_at = ? WHERE id = ?
                    """, [.text(reason), .real(Self.now), row["id"]])
                try Self.recordEvent(db, itemID: row.string("id") ?? "", jobID: row.string("job_id") ?? "",
                                     attempt: row.int("attempt"), from: .running, to: .failed, error: reason,
                                     errorKind: .interrupted)
            }
            return rows.compactMap { $0.string("id").flatMap(UUID.init(uuidString:)) }
        }
    }

    /// Counts one firing of an injected fault and says whether it fires: true while it has fired
    /// fewer than `times` times, across attempts and processes (the counter lives in the store).
    func fireFault(jobID: UUID, itemName: String, phase: Phase, atDocument: Int, times: Int) throws -> Bool {
        try writer.write { db in
            let rows = try db.execute("""
                INSERT INTO fault_firings (job_id, item_name, phase, at_document, fired) VALUES (?, ?, ?, ?, 1)
                ON CONFLICT (job_id, item_name, phase, at_document) DO UPDATE SET fired = fired + 1 WHERE fired < ?
                RETURNING fired
                """, [.text(jobID.uuidString.lowercased()), .text(itemName), .text(phase.rawValue),
                      .integer(Int64(atDocument)), .integer(Int64(times))])
            return !rows.isEmpty
        }
    }
}
