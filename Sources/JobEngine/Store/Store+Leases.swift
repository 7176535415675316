import Foundation

extension Store {
    /// Extends the leases of the listed items, those `owner`'s threads are working on: the heartbeat.
    /// Only these: an item no thread works on must let its lease run out, so a sweep can judge it.
    package func renewLeases(owner: String, itemIDs: [String], leaseSeconds: Double) throws {
        guard !itemIDs.isEmpty else { return }
        let ids = String(decoding: JSONValue.array(itemIDs.map(JSONValue.string)).canonicalJSON(), as: UTF8.self)
        try writer.write { db in
            try db.execute("""
                UPDATE work_items SET lease_expires_at = ?
                WHERE status = 'running' AND lease_owner = ? AND id IN (SELECT value FROM json_each(?))
                """, [.real(Self.now + leaseSeconds), .text(owner), .text(ids)])
        }
    }

    /// The owners currently holding running items, with their latest lease expiry.
    package func runningOwners() throws -> [(owner: String, expiresAt: Double)] {
        try reader.sync { db in
            try db.execute("""
                SELECT lease_owner, MAX(lease_expires_at) AS expires FROM work_items
                WHERE status = 'running' AND lease_owner IS NOT NULL GROUP BY lease_owner
                """).map { ($0.string("lease_owner") ?? "", $0.double("expires") ?? 0) }
        }
    }

    /// Marks every item `owner` was running as `failed` with kind `interrupted`: its worker died.
    /// Returns the ids of the items marked.
    package func markInterrupted(owner: String, reason: String) throws -> [UUID] {
        try markInterrupted(reason: reason, where: "lease_owner = ?", [.text(owner)]) { _ in true }
    }

    /// Marks the listed items of `owner` interrupted: a stop gave up waiting for their threads.
    package func markInterrupted(itemIDs: [String], owner: String, reason: String) throws -> [UUID] {
        let ids = Set(itemIDs)
        return try markInterrupted(reason: reason, where: "lease_owner = ?", [.text(owner)]) { ids.contains($0.id) }
    }

    /// Marks interrupted every running item whose lease expired before `now`: no live worker renewed
    /// it, so no thread is working on it (or its worker stalled past its lease and lost it).
    /// `spare(itemID, owner)` is asked inside the write transaction, where claims are serialized, and
    /// keeps the items this engine's own threads are still on.
    package func markExpiredInterrupted(now: Double, reason: String, spare: (_ itemID: String, _ owner: String) -> Bool) throws -> [UUID] {
        // A read first: sweeps run at every start and poll, and must not queue for the write lock
        // (which another process may hold for long) when nothing expired.
        let expired = try reader.sync { db in
            try db.execute("SELECT 1 FROM work_items WHERE status = 'running' AND lease_expires_at < ? LIMIT 1", [.real(now)])
        }
        guard !expired.isEmpty else { return [] }
        return try markInterrupted(reason: reason, where: "lease_expires_at < ?", [.real(now)]) { !spare($0.id, $0.owner) }
    }

    /// One transaction: the running items matching `condition` that `include` accepts become
    /// `failed`/`interrupted`, each with its event. `{owner}` in `reason` names the item's owner.
    ///
    /// An item interrupted more than its job's `retry.max_recoveries` times in a row ends as
    /// `crash_loop` instead (a poison item that kills its worker), and is not among the ids returned
    /// (`interruptedItems`, which `resume` recovers, does not list it either).
    private func markInterrupted(
        reason: String, where condition: String, _ arguments: [SQLValue],
        include: ((id: String, owner: String)) -> Bool
    ) throws -> [UUID] {
        try writer.write { db in
            let rows = try db.execute("""
                SELECT w.id, w.job_id, w.attempt, w.lease_owner, w.interruptions, j.settings_json
                FROM work_items w JOIN jobs j ON j.id = w.job_id WHERE w.status = 'running' AND \(condition)
                """, arguments)
            var marked: [UUID] = []
            var caps: [String: Int] = [:]
            for row in rows {
                let id = row.string("id") ?? ""
                let owner = row.string("lease_owner") ?? ""
                guard include((id, owner)) else { continue }
                let jobID = row.string("job_id") ?? ""
                let cap = caps[jobID] ?? RetrySpec.maxRecoveries(settings: row.string("settings_json").map { Data($0.utf8) })
                caps[jobID] = cap
                let interruptions = row.int("interruptions") + 1
                let kind: ErrorKind = interruptions > cap ? .crashLoop : .interrupted
                var text = reason.replacingOccurrences(of: "{owner}", with: owner)
                if kind == .crashLoop { text += RetrySpec.crashLoopNote(interruptions: interruptions, cap: cap) }
                try db.execute("""
                    UPDATE work_items SET status = 'failed', error_kind = ?, last_error = ?, lease_owner = NULL,
                    lease_expires_at = NULL, interruptions = ?, updated_at = ? WHERE id = ? AND status = 'running' AND lease_owner = ?
                    """, [.text(kind.rawValue), .text(text), .integer(Int64(interruptions)), .real(Self.now), .text(id), .text(owner)])
                guard db.changes == 1 else { continue }
                try Self.recordEvent(db, itemID: id, jobID: jobID, attempt: row.int("attempt"),
                                     from: .running, to: .failed, error: text, errorKind: kind)
                if kind == .interrupted, let uuid = UUID(uuidString: id) { marked.append(uuid) }
            }
            return marked
        }
    }
}
