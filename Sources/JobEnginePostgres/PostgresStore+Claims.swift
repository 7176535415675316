import Foundation
import JobEngine
import PostgresNIO

extension PostgresStore {
    /// Claims the next runnable item of a job: one statement picks it (`FOR UPDATE SKIP LOCKED`:
    /// concurrent claims on any host skip each other's rows instead of waiting), makes it `running`
    /// under a lease on the database's clock, and increments its fence. Invariant 4 is checked in the
    /// same transaction, as in the SQLite store.
    package func claimNext(jobID: UUID, specVersion: Int, owner: String, leaseSeconds: Double, sync: SyncMode,
                           onClaim: @escaping @Sendable (String) -> Void) throws -> Claim {
        let job = jobID.uuidString.lowercased()
        // Names this claim: when its transaction runs again because the answer to its COMMIT was
        // lost, the item it claimed (if it did) is found and returned, not left running unseen.
        let token = UUID().uuidString.lowercased()
        let claim: (Claim, String?, Int64) = try write { db in
            var claimed = try db.execute("""
                SELECT id, fence, params_fingerprint, checkpoint_fingerprint FROM work_items
                WHERE lease_owner = $1 AND status = 'running' AND claim_token = $2
                """, [.text(owner), .text(token)]).first
            let redone = claimed != nil
            if !redone {
                guard let jobRow = try db.execute("SELECT spec_version, cancelled FROM jobs WHERE id = $1", [.text(job)]).first,
                      jobRow.int("spec_version") > 0 else { return (.nothing, nil, 0) }
                guard jobRow.int("spec_version") == specVersion else { return (.specChanged, nil, 0) }
                guard jobRow.int("cancelled") == 0 else { return (.nothing, nil, 0) }
                // Never an item a thread of this process still holds (its lease taken over while it
                // was cut off, the item queued again): commits are fenced by the process's one entry
                // per item, so two of its threads on one item would share a fence.
                var bindings = PostgresBindings(capacity: 6)
                bindings.append(job)
                bindings.append(owner)
                bindings.append(host)
                bindings.append(leaseSeconds)
                bindings.append(token)
                bindings.append(leases.withLock { Array($0.keys) })
                // What the item staged before is what this run does not collect again, unless its
                // checkpoints were made under other parameters (then it restarts below, keeping nothing).
                claimed = try db.execute("""
                    UPDATE work_items SET status = 'running', lease_owner = $2, lease_host = $3, claim_token = $5,
                    lease_expires_at = \(Self.now) + $4, fence = fence + 1, not_before = NULL,
                    checkpoint_fingerprint = COALESCE(checkpoint_fingerprint, params_fingerprint), updated_at = \(Self.now),
                    not_collected_again = not_collected_again
                        + CASE WHEN checkpoint_fingerprint <> params_fingerprint THEN 0 ELSE collected END
                    WHERE id = (SELECT id FROM work_items WHERE job_id = $1 AND status = 'pending'
                                AND (not_before IS NULL OR not_before <= \(Self.now)) AND NOT (id = ANY($6::text[]))
                                ORDER BY position LIMIT 1 FOR UPDATE SKIP LOCKED)
                    RETURNING id, fence, params_fingerprint, checkpoint_fingerprint
                    """, bindings: bindings).first
            }
            guard let claimed, let id = claimed.string("id") else { return (.nothing, nil, 0) }
            let fence = claimed.int64("fence") ?? 0
            let parametersChanged = !redone && claimed.string("checkpoint_fingerprint") != claimed.string("params_fingerprint")
            if parametersChanged {
                try Self.clearForRestart(db, id: id)
                try db.execute("""
                    UPDATE work_items SET retry_mode = 'restart', checkpoint_fingerprint = params_fingerprint WHERE id = $1
                    """, [.text(id)])
            }
            guard let itemRow = try Self.itemRow(db, id: id) else {
                preconditionFailure("claimed item \(id) vanished inside its own transaction")
            }
            let item = try Store.decodeItem(itemRow)
            if !redone {
                try recordEvent(db, itemID: id, jobID: job, attempt: item.attempt, from: .pending, to: .running,
                                mode: parametersChanged ? .restart : nil,
                                error: parametersChanged ? Store.restartedForChangedParameters : nil)
            }
            let checkpoints = try db.execute("SELECT phase, cursor, sink_offset FROM checkpoints WHERE item_id = $1", [.text(id)])
            let collect = checkpoints.first { $0.string("phase") == Phase.collect.rawValue }
            let ingest = checkpoints.first { $0.string("phase") == Phase.ingest.rawValue }
            // Known before the commit, so a commit of the worker's first page cannot outrun it.
            leases.withLock { $0[id] = (owner, fence) }
            onClaim(id)
            return (.claimed(ClaimedItem(item: item, automaticAttempts: itemRow.int("automatic_attempts"),
                                         needsSinkReset: itemRow.int("needs_sink_reset") != 0,
                                         collectCursor: collect?.string("cursor"), sinkOffset: ingest?.int64("sink_offset"),
                                         restartedForChangedParameters: parametersChanged)), id, fence)
        }
        return claim.0
    }

    package func pendingState(jobID: UUID) throws -> (pending: Int, earliestNotBefore: Double?) {
        try sessions.withSession { db in
            let row = try db.execute("""
                SELECT j.pending_items AS n, (SELECT MIN(w.not_before) FROM work_items w WHERE w.job_id = j.id
                AND w.status = 'pending' AND w.not_before IS NOT NULL) AS earliest, \(Self.now) AS now
                FROM job_standing j WHERE j.id = $1 AND j.cancelled = 0
                """, [.text(jobID.uuidString.lowercased())]).first
            // Back-offs are on the database's clock; the scheduler waits on its own: convert.
            let skew = row?.double("now").map { $0 - Date().timeIntervalSince1970 } ?? 0
            return (row?.int("n") ?? 0, row?.double("earliest").map { $0 - skew })
        }
    }

    // MARK: Checkpoints (conditioned on the lease and its fence)

    /// Invariant 1: the page's documents and the cursor in one transaction, or neither. One
    /// statement (`jobengine_commit_page`, schema/postgres/002): one round trip, conditioned on
    /// the lease and its fence; a worker that lost the item writes nothing, not even staged copies.
    package func commitPage(itemID: String, owner: String, firstSeq: Int, documents: [Document], nextCursor: String?, note: String?,
                            sync: SyncMode) throws -> CheckpointOutcome {
        var bindings = PostgresBindings(capacity: 9)
        bindings.append(itemID)
        bindings.append(owner)
        bindings.append(fence(itemID))
        bindings.append(documents.indices.map { Int64(firstSeq + $0) })
        bindings.append(documents.map(\.key))
        bindings.append(documents.map { ByteBuffer(bytes: $0.body) })
        if let nextCursor { bindings.append(nextCursor) } else { bindings.appendNull() }
        bindings.append(Int64(firstSeq + documents.count))
        if let note { bindings.append(note) } else { bindings.appendNull() }
        let answer = try statement(checkpoint: true) { db in
            try db.execute("""
                SELECT jobengine_commit_page($1, $2, $3, $4::bigint[], $5::text[], $6::bytea[], $7::text, $8, $9::text) AS answer
                """, bindings: bindings).first?.int("answer")
        }
        return try outcome(answer, itemID: itemID, owner: owner)
    }

    /// The answer of a hot-path function: the job's cancel flag, or -1 when the lease was lost.
    func outcome(_ answer: Int?, itemID: String, owner: String) throws -> CheckpointOutcome {
        guard let answer, answer >= 0 else { throw leaseLost(itemID, owner: owner) }
        return CheckpointOutcome(jobCancelled: answer == 1)
    }

    /// Locks the item's row if `owner` still holds it under its fence (the rest of the transaction
    /// then cannot race a reaper or a successor); else `LeaseLost`.
    func lockLease(_ db: PostgresSession, itemID: String, owner: String) throws {
        guard try !db.execute("""
            SELECT 1 FROM work_items WHERE id = $1 AND status = 'running' AND lease_owner = $2 AND fence = $3 FOR UPDATE
            """, [.text(itemID), .text(owner), .integer(fence(itemID))]).isEmpty else { throw leaseLost(itemID, owner: owner) }
    }

    package func stagedDocuments(itemID: String, from seq: Int, limit: Int) throws -> [SequencedDocument] {
        try sessions.withSession { db in
            try db.execute("SELECT seq, key, body FROM staged_documents WHERE item_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
                           [.text(itemID), .integer(Int64(seq)), .integer(Int64(limit))]).map { row in
                SequencedDocument(seq: row.int("seq"), document: Document(key: row.string("key") ?? "", body: row.data("body") ?? Data()))
            }
        }
    }

    /// A batch's checkpoint, one statement. When the `postgres` sink already committed this very
    /// checkpoint with the batch's rows, nothing is left to write: its answer is returned.
    package func commitBatch(itemID: String, owner: String, ingested: Int, sinkOffset: Int64?, sync: SyncMode) throws -> CheckpointOutcome {
        if sinkOffset == nil, let delivered = takeDelivered(itemID: itemID, ingested: ingested) { return delivered }
        let answer = try statement(checkpoint: true) { db in
            try recordBatch(db, itemID: itemID, owner: owner, ingested: ingested, sinkOffset: sinkOffset)
        }
        return try outcome(answer, itemID: itemID, owner: owner)
    }

    package func finishAfterBatch(itemID: String, owner: String, ingested: Int, sinkOffset: Int64?, sync: SyncMode) throws -> WorkItem {
        let delivered = sinkOffset == nil && takeDelivered(itemID: itemID, ingested: ingested) != nil
        return try transition(itemID: itemID, owner: owner, to: .succeeded, phase: .done, first: { db in
            guard !delivered else { return }
            _ = try self.outcome(try self.recordBatch(db, itemID: itemID, owner: owner, ingested: ingested, sinkOffset: sinkOffset),
                                 itemID: itemID, owner: owner)
        }, then: { db in
            try db.execute("DELETE FROM staged_documents WHERE item_id = $1", [.text(itemID)])
        })
    }

    /// `jobengine_record_batch`: the ingest checkpoint, the item's count and the removal of the
    /// delivered staged copies, conditioned on the lease and its fence. Its answer (see `outcome`).
    func recordBatch(_ db: PostgresSession, itemID: String, owner: String, ingested: Int, sinkOffset: Int64?) throws -> Int? {
        try db.execute("SELECT jobengine_record_batch($1, $2, $3, $4, $5::bigint) AS answer",
                       [.text(itemID), .text(owner), .integer(fence(itemID)), .integer(Int64(ingested)), SQLValue(sinkOffset)])
            .first?.int("answer")
    }

    /// The answer of the `postgres` sink's commit of exactly this checkpoint, if it made it (once).
    private func takeDelivered(itemID: String, ingested: Int) -> CheckpointOutcome? {
        let fence = fence(itemID)
        return deliveredBatches.withLock { delivered in
            guard let batch = delivered[itemID], batch.ingested == ingested, batch.fence == fence else { return nil }
            delivered.removeValue(forKey: itemID)
            return batch.outcome
        }
    }

    package func clearSinkReset(itemID: String, owner: String) throws {
        _ = try write { db in
            try db.execute("UPDATE work_items SET needs_sink_reset = 0 WHERE id = $1 AND lease_owner = $2 AND fence = $3",
                           [.text(itemID), .text(owner), .integer(fence(itemID))])
        }
    }

    package func finish(itemID: String, owner: String, sync: SyncMode) throws -> WorkItem {
        try transition(itemID: itemID, owner: owner, to: .succeeded, phase: .done, then: { db in
            try db.execute("DELETE FROM staged_documents WHERE item_id = $1", [.text(itemID)])
        })
    }

    package func stop(itemID: String, owner: String, as status: WorkItemStatus, error: String?, kind: ErrorKind?,
                      retry: (mode: RetryMode, notBefore: Double)?, sync: SyncMode) throws -> WorkItem {
        let retryStarted = Locked(false)
        let item = try transition(itemID: itemID, owner: owner, to: status, error: error, kind: kind, then: { db in
            // The worker's back-off, moved onto the database's clock.
            let notBefore = retry.map { $0.notBefore - Date().timeIntervalSince1970 }
            if let retry, case .started = try self.startRetry(db, id: itemID, mode: retry.mode, origin: .automatic,
                                                              notBeforeDelay: notBefore.map { max(0, $0) }) {
                retryStarted.withLock { $0 = true }
            }
        })
        if let retry, retryStarted.withLock({ $0 }) { EngineMetrics.retriesStarted(1, mode: retry.mode, origin: .automatic) }
        return item
    }

    /// Moves a running item of `owner` (under its fence) to a final status, with its event, in one transaction.
    private func transition(itemID: String, owner: String, to status: WorkItemStatus, phase: Phase? = nil, error: String? = nil,
                            kind: ErrorKind? = nil, first: (PostgresSession) throws -> Void = { _ in },
                            then: (PostgresSession) throws -> Void) throws -> WorkItem {
        let claimed = fence(itemID)
        let item = try write(checkpoint: true) { db in
            try first(db)
            guard let row = try db.execute("""
                UPDATE work_items SET status = $1, phase = COALESCE($2, phase), last_error = $3, error_kind = $4,
                lease_owner = NULL, lease_host = NULL, lease_expires_at = NULL, progress_note = NULL, interruptions = 0,
                updated_at = \(Self.now)
                WHERE id = $5 AND status = 'running' AND lease_owner = $6 AND fence = $7
                RETURNING job_id, attempt
                """, [.text(status.rawValue), SQLValue(phase?.rawValue), SQLValue(error), SQLValue(kind?.rawValue),
                      .text(itemID), .text(owner), .integer(claimed)]).first else { throw leaseLost(itemID, owner: owner) }
            try recordEvent(db, itemID: itemID, jobID: row.string("job_id") ?? "", attempt: row.int("attempt"),
                            from: .running, to: status, error: error, errorKind: kind)
            try then(db)
            guard let itemRow = try Self.itemRow(db, id: itemID) else {
                preconditionFailure("work item \(itemID) vanished inside its own transaction")
            }
            return try Store.decodeItem(itemRow)
        }
        // Only its own: another slot of this engine may have claimed the item again meanwhile.
        leases.withLock { if $0[itemID]?.fence == claimed { $0.removeValue(forKey: itemID) } }
        deliveredBatches.withLock { if $0[itemID]?.fence == claimed { $0.removeValue(forKey: itemID) } }
        EngineMetrics.itemStopped(status)
        return item
    }

    /// The row of one item with its job's name, as `Store.decodeItem` reads it.
    static func itemRow(_ db: PostgresSession, id: String) throws -> Row? {
        try db.execute("SELECT \(Store.itemColumns) FROM work_items w JOIN jobs j ON j.id = w.job_id WHERE w.id = $1", [.text(id)]).first
    }

    // MARK: Leases

    package func renewLeases(owner: String, itemIDs: [String], leaseSeconds: Double) throws {
        guard !itemIDs.isEmpty else { return }
        let fenced = leases.withLock { leases in itemIDs.map { ($0, leases[$0]?.fence ?? -1) } }
        try sessions.withSession { db in
            var bindings = PostgresBindings(capacity: 4)
            bindings.append(owner)
            bindings.append(leaseSeconds)
            bindings.append(fenced.map(\.0))
            bindings.append(fenced.map(\.1))
            try db.execute("""
                UPDATE work_items w SET lease_expires_at = \(Self.now) + $2
                FROM unnest($3::text[], $4::bigint[]) AS l (id, fence)
                WHERE w.id = l.id AND w.fence = l.fence AND w.status = 'running' AND w.lease_owner = $1
                """, bindings: bindings)
        }
    }

    package func runningOwners() throws -> [(owner: String, expiresAt: Double)] {
        try sessions.withSession { db in
            // Leases are on the database's clock, read with each row; the caller compares with its own.
            let local = Date().timeIntervalSince1970
            return try db.execute("""
                SELECT lease_owner, MAX(lease_expires_at) AS expires, \(Self.now) AS now FROM work_items
                WHERE status = 'running' AND lease_owner IS NOT NULL GROUP BY lease_owner
                """).map { ($0.string("lease_owner") ?? "", ($0.double("expires") ?? 0) - (($0.double("now") ?? local) - local)) }
        }
    }

    package func markInterrupted(owner: String, reason: String) throws -> [UUID] {
        try markInterrupted(reason: reason, where: "lease_owner = $1", [.text(owner)]) { _ in true }
    }

    package func markInterrupted(itemIDs: [String], owner: String, reason: String) throws -> [UUID] {
        let ids = Set(itemIDs)
        return try markInterrupted(reason: reason, where: "lease_owner = $1", [.text(owner)]) { ids.contains($0.id) }
    }

    /// The reaper: marks interrupted every running item whose lease expired on the database's clock
    /// (`now`, the caller's clock, is not used: hosts' clocks differ). One worker reaps at a time
    /// (a transaction-level advisory lock, tried, not waited for: the others have nothing to add).
    package func markExpiredInterrupted(now: Double, reason: String, spare: (_ itemID: String, _ owner: String) -> Bool) throws -> [UUID] {
        try markInterrupted(reason: reason, where: "lease_expires_at < \(Self.now)", [], reaper: true) { !spare($0.id, $0.owner) }
    }

    /// One transaction: the running items matching `condition` that `include` accepts become
    /// `failed`/`interrupted`, each with its event. Each update is guarded by the fence it read, so
    /// an item that finished, or was claimed again, after the read is never touched.
    ///
    /// An item interrupted more than its job's `retry.max_recoveries` times in a row ends as
    /// `crash_loop` instead, and is not among the ids returned (they are recovered automatically).
    private func markInterrupted(reason: String, where condition: String, _ arguments: [SQLValue], reaper: Bool = false,
                                 include: ((id: String, owner: String)) -> Bool) throws -> [UUID] {
        try write { db in
            if reaper, try db.execute("SELECT pg_try_advisory_xact_lock(hashtextextended(current_schema() || ' reaper', 0)) AS mine")
                .first?.int("mine") != 1 { return [] }
            let rows = try db.execute("""
                SELECT w.id, w.job_id, w.attempt, w.lease_owner, w.fence, w.interruptions, j.settings_json
                FROM work_items w JOIN jobs j ON j.id = w.job_id WHERE w.status = 'running' AND \(condition)
                ORDER BY w.id FOR UPDATE OF w SKIP LOCKED
                """, arguments)
            var marked: [UUID] = []
            var caps: [String: Int] = [:]
            for row in rows {
                let id = row.string("id") ?? ""
                let owner = row.string("lease_owner") ?? ""
                guard include((id, owner)) else { continue }
                let jobID = row.string("job_id") ?? ""
                let cap = caps[jobID] ?? RetrySpec.maxRecoveries(settings: row.data("settings_json"))
                caps[jobID] = cap
                let interruptions = row.int("interruptions") + 1
                let kind: ErrorKind = interruptions > cap ? .crashLoop : .interrupted
                var text = reason.replacingOccurrences(of: "{owner}", with: owner)
                if kind == .crashLoop {
                    text += RetrySpec.crashLoopNote(interruptions: interruptions, cap: cap)
                }
                let changed = try db.change("""
                    UPDATE work_items SET status = 'failed', error_kind = $5, last_error = $1, lease_owner = NULL,
                    lease_host = NULL, lease_expires_at = NULL, progress_note = NULL, interruptions = $6, updated_at = \(Self.now)
                    WHERE id = $2 AND status = 'running' AND lease_owner = $3 AND fence = $4
                    """, [.text(text), .text(id), .text(owner), row["fence"], .text(kind.rawValue), .integer(Int64(interruptions))])
                guard changed == 1 else { continue }
                // A claim of this process that ends here is forgotten, so the process may claim the item again.
                let fence = row.int64("fence")
                leases.withLock { if $0[id]?.fence == fence { $0.removeValue(forKey: id) } }
                try recordEvent(db, itemID: id, jobID: jobID, attempt: row.int("attempt"),
                                from: .running, to: .failed, error: text, errorKind: kind)
                if kind == .interrupted, let uuid = UUID(uuidString: id) { marked.append(uuid) }
            }
            return marked
        }
    }
}
