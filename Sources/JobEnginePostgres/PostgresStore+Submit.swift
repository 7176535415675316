import Foundation
import JobEngine
import PostgresNIO

extension PostgresStore {
    /// Items per statement of a submit.
    static let submitStep = 5_000

    /// Records `spec` in one transaction: a new job with its items `pending`, or the next spec
    /// version of a known job, with each listed item's parameters and fingerprint updated, new ones
    /// added and unlisted ones given the new settings' fingerprint. The job takes its sink targets
    /// (invariant 7). Every problem found is reported and nothing is written (the transaction rolls
    /// back). Two hosts submitting the same name wait for each other (an advisory lock on the name).
    package func submit(_ spec: JobSpec, baseDirectory: URL, owner: String, protecting: ProtectedPaths) async throws -> SubmitResult {
        try await sessions.transactionAnsweredOnce { db in try self.submit(db, spec: spec, baseDirectory: baseDirectory, protecting: protecting) }
    }

    private func submit(_ db: PostgresSession, spec: JobSpec, baseDirectory: URL, protecting: ProtectedPaths) throws -> SubmitResult {
        let settings = { var settings = spec; settings.items = []; return settings }()
        let settingsJSON = String(decoding: settings.jsonValue.canonicalJSON(), as: UTF8.self)
        // Per schema: stores in other schemas of the database have jobs of the same name.
        try db.execute("SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ' submit ' || $1, 0))", [.text(spec.name)])
        // No row lock on the job: its counters are updated by every item change (under the item's
        // lock first), and taking the job's first here would deadlock with running workers.
        let existing = try db.execute("SELECT id, spec_version FROM jobs WHERE name = $1", [.text(spec.name)]).first
        let created = existing == nil
        let jobID = existing?.string("id") ?? UUID().uuidString.lowercased()
        let version = (existing?.int("spec_version") ?? 0) + 1
        if created {
            try db.execute("""
                INSERT INTO jobs (id, name, spec_json, settings_json, spec_version, base_directory, created_at, updated_at)
                VALUES ($1, $2, $3, $3, 1, $4, \(Self.now), \(Self.now))
                """, [.text(jobID), .text(spec.name), .text(settingsJSON), .text(baseDirectory.path)])
        }
        var problems = SubmitProblems()
        if !SinkTarget.perItem(spec) {
            try claim(SinkTarget.of(spec, itemNames: [], baseDirectory: baseDirectory), db, jobID: jobID, jobName: spec.name,
                      protecting: protecting, problems: &problems)
        }
        // The names of this submit, to find duplicates (a file may list a name twice) without memory per item.
        try db.execute("CREATE TEMPORARY TABLE submit_names (name TEXT PRIMARY KEY, position BIGINT NOT NULL) ON COMMIT DROP")
        let fingerprint = ParameterFingerprint(spec: spec, baseDirectory: baseDirectory.path)
        var tally = SubmitTally()
        var chunk: [(position: Int, item: ItemSpec)] = []
        let fromFile = spec.itemsFile != nil
        func flush() throws {
            guard !chunk.isEmpty else { return }
            if SinkTarget.perItem(spec) {
                try claim(SinkTarget.of(spec, itemNames: chunk.map(\.item.name), baseDirectory: baseDirectory), db, jobID: jobID,
                          jobName: spec.name, protecting: protecting, problems: &problems)
            }
            try write(chunk, db, jobID: jobID, version: version, fingerprint: fingerprint, fromFile: fromFile,
                      tally: &tally, problems: &problems)
            chunk.removeAll(keepingCapacity: true)
        }
        var faultItems = Set(spec.faults.map(\.item))
        if let file = ItemsFile(spec, baseDirectory: baseDirectory) {
            let lines = try file.lines()
            while let (number, line) = try lines.next() {
                switch line {
                case .item(let item):
                    chunk.append((number, item))
                    faultItems.remove(item.name)
                case .problem(let problem):
                    problems.add(problem)
                }
                if chunk.count == Self.submitStep { try flush() }
            }
            try flush()
            if tally.listed == 0 && problems.isEmpty {
                problems.add(SpecProblem(field: "items_file", message: "\(file.url.path) holds no items; list one {\"name\": …} object per line"))
            }
            for name in faultItems.sorted() {
                problems.add(SpecProblem(field: "faults", message: "no item of the items file is named \"\(name)\""))
            }
        } else {
            for (position, item) in spec.items.enumerated() {
                chunk.append((position, item))
                if chunk.count == Self.submitStep { try flush() }
            }
            try flush()
        }
        if let error = problems.error { throw error }
        if !created {
            // Items this version no longer lists keep their params, but take the new settings'
            // fingerprint (a queued recover of one restarts), and move after the listed items.
            let unlisted = try db.execute("""
                SELECT id, params_json FROM work_items WHERE job_id = $1 AND fingerprint_version < $2 ORDER BY position
                """, [.text(jobID), .integer(Int64(version))])
            var next = Int64(tally.lastPosition + 1)
            for row in unlisted {
                try db.execute("UPDATE work_items SET params_fingerprint = $1, fingerprint_version = $2, position = $3 WHERE id = $4",
                               [.text(fingerprint.of(try Store.decodeParams(row))), .integer(Int64(version)), .integer(next), row["id"]])
                next += 1
            }
            // Submitting a job again re-opens it if it was cancelled.
            try db.execute("""
                UPDATE jobs SET spec_json = $1, settings_json = $1, spec_version = $2, base_directory = $3, cancelled = 0,
                updated_at = \(Self.now) WHERE id = $4
                """, [.text(settingsJSON), .integer(Int64(version)), .text(baseDirectory.path), .text(jobID)])
        }
        if tally.addedCount > 0 || !created { try notifyWorkQueued(db) }
        guard let job = try db.execute("SELECT * FROM jobs WHERE id = $1", [.text(jobID)]).first.map(Store.decodeJob) else {
            preconditionFailure("job \(jobID) vanished inside its own submit")
        }
        return SubmitResult(job: job, created: created, addedItems: tally.added, changedItems: tally.changed,
                            addedCount: tally.addedCount, changedCount: tally.changedCount)
    }

    /// What a submit did so far.
    private struct SubmitTally {
        var listed = 0
        var lastPosition = -1
        var added: [String] = []
        var addedCount = 0
        var changed: [String] = []
        var changedCount = 0
    }

    /// Writes one step of listed items: duplicates reported, existing items updated, new ones
    /// inserted with their creation events.
    private func write(_ chunk: [(position: Int, item: ItemSpec)], _ db: PostgresSession, jobID: String, version: Int,
                       fingerprint: ParameterFingerprint, fromFile: Bool, tally: inout SubmitTally, problems: inout SubmitProblems) throws {
        var names = PostgresBindings()
        names.append(chunk.map(\.item.name))
        names.append(chunk.map { Int64($0.position) })
        let fresh = Set(try db.execute("""
            INSERT INTO submit_names (name, position) SELECT * FROM unnest($1::text[], $2::bigint[])
            ON CONFLICT (name) DO NOTHING RETURNING name
            """, bindings: names).compactMap { $0.string("name") })
        var rows: [(position: Int, name: String, params: String, print: String)] = []
        var seen = Set<String>()
        for (position, item) in chunk {
            guard fresh.contains(item.name), seen.insert(item.name).inserted else {
                let first = try db.execute("SELECT position FROM submit_names WHERE name = $1", [.text(item.name)]).first?.int("position") ?? 0
                problems.addDuplicate(item.name, at: position, first: first, fromFile: fromFile)
                continue
            }
            let params = JSONValue.object(item.params).canonicalJSON()
            rows.append((position, item.name, String(decoding: params, as: UTF8.self), fingerprint.of(canonicalParams: params)))
        }
        tally.listed += rows.count
        tally.lastPosition = max(tally.lastPosition, chunk.last?.position ?? -1)
        guard !rows.isEmpty else { return }
        var bindings = PostgresBindings()
        bindings.append(jobID)
        bindings.append(Int64(version))
        bindings.append(rows.map(\.name))
        bindings.append(rows.map { Int64($0.position) })
        bindings.append(rows.map(\.params))
        bindings.append(rows.map(\.print))
        bindings.append(rows.map { _ in ItemID.next() })
        bindings.append(host)
        let written = try db.execute("""
            WITH listed AS (SELECT * FROM unnest($3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[]) AS u (name, position, params, print, id)),
            updated AS (
                UPDATE work_items w SET params_json = l.params, params_fingerprint = l.print, position = l.position,
                fingerprint_version = $2, updated_at = \(Self.now)
                FROM listed l WHERE w.job_id = $1 AND w.name = l.name
                RETURNING w.name, w.position, (w.checkpoint_fingerprint IS NOT NULL AND w.checkpoint_fingerprint <> l.print) AS changed),
            inserted AS (
                INSERT INTO work_items (id, job_id, name, position, status, phase, params_json, params_fingerprint,
                fingerprint_version, created_at, updated_at)
                SELECT l.id, $1, l.name, l.position, 'pending', 'collect', l.params, l.print, $2, \(Self.now), \(Self.now)
                FROM listed l WHERE NOT EXISTS (SELECT 1 FROM work_items w WHERE w.job_id = $1 AND w.name = l.name)
                RETURNING id, name, position),
            created AS (
                INSERT INTO events (item_id, job_id, attempt, from_status, to_status, host, at)
                SELECT id, $1, 1, NULL, 'pending', $8, \(Self.now) FROM inserted)
            SELECT name, position, changed, false AS added FROM updated
            UNION ALL SELECT name, position, false, true FROM inserted ORDER BY position
            """, bindings: bindings)
        for row in written {
            let name = row.string("name") ?? ""
            if row.int("added") != 0 {
                tally.addedCount += 1
                if tally.added.count < 1_000 { tally.added.append(name) }
            } else if row.int("changed") != 0 {
                tally.changedCount += 1
                if tally.changed.count < 1_000 { tally.changed.append(name) }
            }
        }
    }

    /// Records `jobID` as the owner of each target, as the SQLite store does (invariant 7), a step
    /// of targets in three statements (a per-item target per item: a round trip each would be most
    /// of a large submit).
    private func claim(_ targets: [SinkTarget], _ db: PostgresSession, jobID: String, jobName: String,
                       protecting: ProtectedPaths, problems: inout SubmitProblems) throws {
        var candidates: [SinkTarget] = []
        for target in targets {
            if let what = protecting.what(target.file) {
                problems.addProtected(target, what)
            } else {
                candidates.append(target)
            }
        }
        guard !candidates.isEmpty else { return }
        var keys = PostgresBindings()
        keys.append(candidates.map(\.key))
        var owners: [String: (id: String, name: String)] = [:]
        for row in try db.execute("""
            SELECT s.target, s.job_id, j.name FROM sink_targets s JOIN jobs j ON j.id = s.job_id WHERE s.target = ANY($1::text[])
            """, bindings: keys) {
            owners[row.string("target") ?? ""] = (row.string("job_id") ?? "", row.string("name") ?? "")
        }
        var names = PostgresBindings()
        names.append(jobID)
        names.append(candidates.compactMap(\.item))
        let known = Set(try db.execute("SELECT name FROM work_items WHERE job_id = $1 AND name = ANY($2::text[])", bindings: names)
            .compactMap { $0.string("name") })
        let jobHasItems = try !db.execute("SELECT 1 FROM work_items WHERE job_id = $1 LIMIT 1", [.text(jobID)]).isEmpty
        var new: [String] = []
        for target in candidates {
            if let owner = owners[target.key] {
                if owner.id != jobID {
                    problems.addOwned(target, by: owner.name)
                }
                continue
            }
            let adopted = target.item.map(known.contains) ?? jobHasItems
            if !adopted && target.holdsForeignData(job: jobName) {
                problems.addForeignData(target, job: jobName)
            }
            new.append(target.key)
        }
        guard !new.isEmpty else { return }
        var rows = PostgresBindings()
        rows.append(new)
        rows.append(jobID)
        let taken = Set(try db.execute("""
            INSERT INTO sink_targets (target, job_id, created_at) SELECT t, $2, \(Self.now) FROM unnest($1::text[]) AS t
            ON CONFLICT (target) DO NOTHING RETURNING target
            """, bindings: rows).compactMap { $0.string("target") })
        // A target another job's submit took meanwhile (it committed between the read above and
        // this insert) is that job's: refused like any owned target.
        for target in candidates where new.contains(target.key) && !taken.contains(target.key) {
            let owner = try db.execute("SELECT j.name FROM sink_targets s JOIN jobs j ON j.id = s.job_id WHERE s.target = $1",
                                       [.text(target.key)]).first?.string("name") ?? "another job"
            problems.addOwned(target, by: owner)
        }
    }
}
