import Foundation

/// A submit of a spec whose engine is gone, as the next engine finds it.
package struct UnfinishedSubmit: Sendable, Equatable {
    package let jobID: UUID
    package let jobName: String
    /// The engine that was submitting.
    package let owner: String
    /// False: its items were still being staged (it is discarded). True: all were staged and were
    /// being applied (it is finished).
    package let applying: Bool
}

extension Store {
    /// Items per transaction of a submit: each step holds the write lock for a few milliseconds to
    /// a few tens of them (Benchmarks/README.md, `scale`), so other workers keep committing.
    static let submitStep = 1_500

    /// Creation events per transaction: one `INSERT … SELECT` of rows the store already holds, far
    /// cheaper per item than a step of parsed items.
    static let creationStep = 10_000
    /// Item names a `SubmitResult` lists (its counts count them all).
    static let submitResultNames = 1_000
    /// Problems a refused submit lists before it only counts the rest.
    static let problemLimit = 100

    /// Records `spec`: a new job with its items `pending`, or, for a name already known, the next
    /// spec version with each item's parameter fingerprint updated and new items added. The job
    /// takes ownership of its sink targets (invariant 7).
    ///
    /// Written in bounded steps, never one long transaction: the items (inline or streamed from
    /// `items_file`) are staged a few thousand per transaction while the job stays as it was (a new
    /// one invisible); then they are applied a few thousand per transaction while the job cannot be
    /// claimed; a last transaction makes the new version current. A submit refused (a duplicate name,
    /// a bad line, a target another job owns) is discarded and changes nothing. One that dies is
    /// discarded (still staging) or finished (applying) by the next engine (`unfinishedSubmits`).
    ///
    /// - Throws: `EngineError` `.invalidSpec` with every problem (up to 100, then a count), or
    ///   `.busy` when another live engine is submitting the same job.
    package func submit(_ spec: JobSpec, baseDirectory: URL, owner: String, protecting: ProtectedPaths) async throws -> SubmitResult {
        let settings = { var settings = spec; settings.items = []; return settings }()
        let settingsJSON = String(decoding: settings.jsonValue.canonicalJSON(), as: UTF8.self)
        let base = baseDirectory.path
        let (jobID, created) = try await writer.write { db in
            try Self.beginSubmit(db, spec: settings, settingsJSON: settingsJSON, baseDirectory: baseDirectory, owner: owner,
                                 protecting: protecting)
        }
        do {
            try await stage(spec, jobID: jobID, baseDirectory: baseDirectory, protecting: protecting, direct: created)
        } catch {
            do {
                try await Self.unlessCancelled { [self] in try await whileBusy { try await discardSubmit(jobID: jobID, owner: owner) } }
            } catch let discard {
                // The refusal is what the caller must see; the next engine discards what is left.
                logger.error("discarding the refused submit of job \(spec.name) failed: \(discard)")
            }
            throw error
        }
        return try await Self.unlessCancelled { [self] in
            try await whileBusy {
                try await writer.write { db in
                    try Self.checkOwner(db, jobID: jobID, owner: owner)
                    try db.execute("UPDATE jobs SET submit_state = 'applying' WHERE id = ?", [.text(jobID)])
                }
            }
            return try await whileBusy {
                try await apply(jobID: jobID, owner: owner, spec: settings, baseDirectory: base, created: created)
            }
        }
    }

    /// Runs `body` again while another process holds the write lock past the busy timeout, for up
    /// to ten minutes: a submit that staged everything is finished, not left half-applied, by a
    /// moment of contention. Applying and discarding are idempotent, so running them again is safe.
    private func whileBusy<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        let deadline = Date().addingTimeInterval(600)
        var wait = 0.05
        while true {
            do {
                return try await body()
            } catch let error as SQLiteError where error.isBusy && Date() < deadline {
                try? await Task.sleep(for: .seconds(wait))
                wait = min(wait * 2, 2)
            }
        }
    }

    /// Throws unless `owner` still runs the submit of `jobID`: an engine that ended a dead engine's
    /// submit, or took it over, is the only one that writes it from then on.
    private static func checkOwner(_ db: Connection, jobID: String, owner: String) throws {
        guard try db.execute("SELECT 1 FROM jobs WHERE id = ? AND submit_owner = ?", [.text(jobID), .text(owner)]).first != nil else {
            throw EngineError(.busy, "the submit of job \(jobID) is no longer this engine's: another engine ended it")
        }
    }

    /// Runs `body` to its end even when the calling task is cancelled: a submit that has staged all
    /// its items is finished, one refused is discarded, whatever the caller does meanwhile.
    private static func unlessCancelled<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await Task.detached { try await body() }.value
    }

    /// The first step: the job row (new, at version 0, invisible) marked `staging` with the spec
    /// to apply, and the targets every item shares.
    private static func beginSubmit(_ db: Connection, spec: JobSpec, settingsJSON: String, baseDirectory: URL, owner: String,
                                    protecting: ProtectedPaths) throws -> (String, Bool) {
        let now = Self.now
        let existing = try db.execute("SELECT id, submit_state, submit_owner FROM jobs WHERE name = ?", [.text(spec.name)]).first
        let jobID: String
        if let existing {
            jobID = existing.string("id")!
            guard existing.string("submit_state") == "ready" else {
                throw EngineError(.busy, "job \(spec.name) is being submitted by another engine (\(existing.string("submit_owner") ?? "?")); submit again when it has finished")
            }
            // Submitting a cancelled job again re-opens it now: a cancel arriving during the submit stays.
            try db.execute("""
                UPDATE jobs SET submit_state = 'staging', submit_owner = ?, next_settings_json = ?, next_base_directory = ?,
                cancelled = 0 WHERE id = ?
                """, [.text(owner), .text(settingsJSON), .text(baseDirectory.path), .text(jobID)])
        } else {
            jobID = UUID().uuidString.lowercased()
            try db.execute("""
                INSERT INTO jobs (id, name, spec_json, settings_json, spec_version, base_directory, created_at, updated_at,
                submit_state, submit_owner, next_settings_json, next_base_directory)
                VALUES (?, ?, ?, ?, 0, ?, ?, ?, 'staging', ?, ?, ?)
                """, [.text(jobID), .text(spec.name), .text(settingsJSON), .text(settingsJSON), .text(baseDirectory.path),
                      .real(now), .real(now), .text(owner), .text(settingsJSON), .text(baseDirectory.path)])
        }
        if !SinkTarget.perItem(spec) {
            var problems = SubmitProblems()
            try claim(SinkTarget.of(spec, itemNames: [], baseDirectory: baseDirectory), db, jobID: jobID, jobName: spec.name,
                      protecting: protecting, problems: &problems)
            if let error = problems.error { throw error }
        }
        return (jobID, existing == nil)
    }

    /// Stages every item, a step at a time, collecting every problem; throws them all at the end.
    ///
    /// A new job's items go straight into `work_items` (the job stays invisible and unclaimable at
    /// spec version 0 until the submit ends, and a discard deletes them): staging them elsewhere and
    /// copying them over wrote every item twice, more than half of a large submit's time. A job
    /// submitted again stages into `submit_items`, because its items are compared with the ones it has.
    ///
    /// An items file is read while the previous step is written: parsing and canonicalizing lines
    /// is a third of a submit's work, and it runs on this task's thread while the writer's queue
    /// writes, two cores instead of one.
    private func stage(_ spec: JobSpec, jobID: String, baseDirectory: URL, protecting: ProtectedPaths, direct: Bool) async throws {
        let fingerprint = ParameterFingerprint(spec: spec, baseDirectory: baseDirectory.path)
        var problems = SubmitProblems()
        var faultItems = Set(spec.faults.map(\.item))
        var chunk: [(position: Int, item: ItemSpec)] = []
        var staged = 0
        let perItemTargets = SinkTarget.perItem(spec)
        let file = spec.itemsFile != nil
        // The step being written while the next is read, and the problems it finds.
        var writing: Task<SubmitProblems, any Error>?
        func written() async throws {
            guard let step = writing else { return }
            writing = nil
            problems.add(contentsOf: try await step.value)
        }
        /// Writes `chunk` once the step before it is written; `lineProblems` (the chunk's bad lines)
        /// are listed after that step's duplicates, in line order.
        func flush(_ lineProblems: SubmitProblems = SubmitProblems()) async throws {
            // The step's write runs in a task of its own, which the caller's cancel does not reach:
            // a cancelled submit stops here, before its next step, and is discarded.
            try Task.checkCancellation()
            guard !chunk.isEmpty else {
                try await written()
                return problems.add(contentsOf: lineProblems)
            }
            let rows = chunk.map { entry in
                let params = JSONValue.object(entry.item.params).canonicalJSON()
                return (entry.position, entry.item.name, ItemID.next(), String(decoding: params, as: UTF8.self),
                        fingerprint.of(canonicalParams: params))
            }
            let targets = perItemTargets ? SinkTarget.of(spec, itemNames: chunk.map(\.item.name), baseDirectory: baseDirectory) : []
            staged += chunk.count
            chunk.removeAll(keepingCapacity: true)
            // Canonical parameters and fingerprints above were computed while the last step was
            // still being written.
            try await written()
            problems.add(contentsOf: lineProblems)
            let writer = writer
            writing = Task {
                try await writer.write { db in
                    var problems = SubmitProblems()
                    // Targets first: a per-item target of a new job is adopted only if the job
                    // already had the item, which the inserts below would make true.
                    try Self.claim(targets, db, jobID: jobID, jobName: spec.name, protecting: protecting, problems: &problems)
                    let now = Self.now
                    var inserted = 0
                    var duplicates: [(position: Int, name: String)] = []
                    // One prepared statement for the step's rows; a row that inserted nothing is a
                    // duplicate name, reported with the position of the first below.
                    try db.executeEach(direct ? Self.insertItemSQL : Self.stageItemSQL, rows, arguments: { position, name, id, params, print in
                        direct
                            ? [.text(id), .text(jobID), .text(name), .integer(Int64(position)), .text(params), .text(print), .real(now), .real(now)]
                            : [.text(jobID), .text(name), .integer(Int64(position)), .text(id), .text(params), .text(print)]
                    }, after: { row in
                        if db.changes == 0 { duplicates.append((row.0, row.1)) } else { inserted += 1 }
                    })
                    for (position, name) in duplicates {
                        let first = try db.execute("SELECT position FROM \(direct ? "work_items" : "submit_items") WHERE job_id = ? AND name = ?",
                                                   [.text(jobID), .text(name)]).first?.int("position") ?? 0
                        problems.addDuplicate(name, at: position, first: first, fromFile: file)
                    }
                    // The step counts its new items once (`counted = 0` kept the trigger from counting
                    // each row), in the same transaction.
                    if direct && inserted > 0 {
                        try db.execute("UPDATE jobs SET pending_items = pending_items + ? WHERE id = ?",
                                       [.integer(Int64(inserted)), .text(jobID)])
                    }
                    return problems
                }
            }
        }
        do {
            if let file = ItemsFile(spec, baseDirectory: baseDirectory) {
                // The file is read on this task's thread a step at a time; memory holds the step being
                // written and the one being read, whatever the file's length.
                var lines: [(Int, ItemsFile.Line)] = []
                var lineProblems = SubmitProblems()
                let reader = try file.lines()
                while let line = try reader.next() {
                    lines.append(line)
                    if lines.count == Self.submitStep {
                        Self.sort(lines, into: &chunk, problems: &lineProblems, faultItems: &faultItems)
                        lines.removeAll(keepingCapacity: true)
                        try await flush(lineProblems)
                        lineProblems = SubmitProblems()
                    }
                }
                Self.sort(lines, into: &chunk, problems: &lineProblems, faultItems: &faultItems)
                try await flush(lineProblems)
                try await written()
                if staged == 0 && problems.isEmpty {
                    problems.add(SpecProblem(field: "items_file", message: "\(file.url.path) holds no items; list one {\"name\": …} object per line"))
                }
                for name in faultItems.sorted() {
                    problems.add(SpecProblem(field: "faults", message: "no item of the items file is named \"\(name)\""))
                }
            } else {
                for (position, item) in spec.items.enumerated() {
                    chunk.append((position, item))
                    if chunk.count == Self.submitStep { try await flush() }
                }
                try await flush()
                try await written()
            }
        } catch {
            // The step in flight ends before the caller discards the submit.
            _ = try? await writing?.value
            throw error
        }
        if let error = problems.error { throw error }
    }

    /// A new job's item, written in place (`counted = 0`: its step counts it).
    private static let insertItemSQL = """
        INSERT INTO work_items (id, job_id, name, position, status, phase, params_json, params_fingerprint,
        fingerprint_version, created_at, updated_at, counted)
        VALUES (?, ?, ?, ?, 'pending', 'collect', ?, ?, 1, ?, ?, 0)
        ON CONFLICT (job_id, name) DO NOTHING
        """

    /// A resubmitted job's item, staged until the submit applies.
    private static let stageItemSQL = """
        INSERT INTO submit_items (job_id, name, position, item_id, params_json, params_fingerprint)
        VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (job_id, name) DO NOTHING
        """

    /// Moves a step of read lines into `chunk` (items) and `problems` (the rest).
    private static func sort(_ lines: [(Int, ItemsFile.Line)], into chunk: inout [(position: Int, item: ItemSpec)],
                             problems: inout SubmitProblems, faultItems: inout Set<String>) {
        for (number, line) in lines {
            switch line {
            case .item(let item):
                chunk.append((number, item))
                faultItems.remove(item.name)
            case .problem(let problem):
                problems.add(problem)
            }
        }
    }

    /// Applies the staged items of a submit a step at a time, then makes its spec current.
    /// Idempotent: a submit interrupted while applying is finished by calling it again.
    private func apply(jobID: String, owner: String, spec: JobSpec, baseDirectory: String, created: Bool) async throws -> SubmitResult {
        let version = try await reader.run { db in
            (try db.execute("SELECT spec_version FROM jobs WHERE id = ?", [.text(jobID)]).first?.int("spec_version") ?? 0) + 1
        }
        var added: [String] = []
        var changed: [String] = []
        var addedCount = 0
        var changedCount = 0
        if created {
            // A new job's items are in place already (`stage`); what is left is their creation events.
            while try await writer.write({ db in
                try Self.checkOwner(db, jobID: jobID, owner: owner)
                return try Self.recordCreations(db, jobID: jobID)
            }) {}
            let listed = try await reader.run { db in
                (try db.execute("SELECT name FROM work_items WHERE job_id = ? ORDER BY position LIMIT ?",
                                [.text(jobID), .integer(Int64(Self.submitResultNames))]).compactMap { $0.string("name") },
                 try db.execute("SELECT pending_items FROM jobs WHERE id = ?", [.text(jobID)]).first?.int("pending_items") ?? 0)
            }
            added = listed.0
            addedCount = listed.1
        }
        while true {
            let step = try await writer.write { db in
                try Self.checkOwner(db, jobID: jobID, owner: owner)
                return try Self.applyStep(db, jobID: jobID, version: version)
            }
            guard let step else { break }
            addedCount += step.addedCount
            changedCount += step.changedCount
            added += step.added.prefix(Self.submitResultNames - added.count)
            changed += step.changed.prefix(Self.submitResultNames - changed.count)
        }
        // Items this version no longer lists keep their params, but the job's collector, ingester
        // and folder are now this spec's: their fingerprint changes with them, so a recover queued
        // for one of them restarts when claimed instead of resuming under the new settings. They
        // move after the listed items, so positions stay unique (paging keys on them).
        let fingerprint = ParameterFingerprint(spec: spec, baseDirectory: baseDirectory)
        // A new job lists every item it has.
        while !created, try await writer.write({ db in
            try Self.refreshUnlisted(db, jobID: jobID, version: version, fingerprint: fingerprint)
        }) {}
        let job = try await writer.write { db in
            try Self.checkOwner(db, jobID: jobID, owner: owner)
            try db.execute("""
                UPDATE jobs SET spec_json = next_settings_json, settings_json = next_settings_json, spec_version = ?,
                base_directory = next_base_directory, updated_at = ?, submit_state = 'ready', submit_owner = NULL,
                next_settings_json = NULL, next_base_directory = NULL, submit_applied = NULL WHERE id = ?
                """, [.integer(Int64(version)), .real(Self.now), .text(jobID)])
            try db.execute("UPDATE sink_targets SET staged = 0 WHERE job_id = ? AND staged = 1", [.text(jobID)])
            guard let job = try Self.job(db, where: "id = ?", .text(jobID)) else {
                preconditionFailure("job \(jobID) vanished inside its own submit")
            }
            return job
        }
        return SubmitResult(job: job, created: created, addedItems: added, changedItems: changed,
                            addedCount: addedCount, changedCount: changedCount)
    }

    /// What one step of applying did.
    private struct AppliedStep: Sendable {
        var added: [String]
        var addedCount: Int
        var changed: [String]
        var changedCount: Int
    }

    /// Applies the first `submitStep` staged items (by position); nil when none are left.
    private static func applyStep(_ db: Connection, jobID: String, version: Int) throws -> AppliedStep? {
        let bounds = try db.execute("""
            SELECT COUNT(*) AS n, MAX(position) AS last FROM
            (SELECT position FROM submit_items WHERE job_id = ? ORDER BY position LIMIT ?)
            """, [.text(jobID), .integer(Int64(submitStep))]).first
        guard let bounds, bounds.int("n") > 0, let last = bounds.int64("last") else { return nil }
        let now = Self.now
        let step: [SQLValue] = [.text(jobID), .integer(last)]
        // The staged step drives every statement (CROSS JOIN fixes SQLite's join order): driven
        // from work_items instead, each step walked the job's items applied so far, and a submit of
        // a million items took minutes instead of seconds.
        let existing = try db.execute("""
            SELECT s.name, s.params_json, s.params_fingerprint, s.position, w.id, w.checkpoint_fingerprint
            FROM submit_items s CROSS JOIN work_items w ON w.job_id = s.job_id AND w.name = s.name
            WHERE s.job_id = ? AND s.position <= ? ORDER BY s.position
            """, step)
        var changed: [String] = []
        for row in existing {
            if let made = row.string("checkpoint_fingerprint"), made != row.string("params_fingerprint") {
                changed.append(row.string("name") ?? "")
            }
            try db.execute("""
                UPDATE work_items SET params_json = ?, params_fingerprint = ?, position = ?, fingerprint_version = ?, updated_at = ?
                WHERE id = ?
                """, [row["params_json"], row["params_fingerprint"], row["position"], .integer(Int64(version)), .real(now), row["id"]])
        }
        let added = try db.execute("""
            SELECT s.name FROM submit_items s WHERE s.job_id = ? AND s.position <= ?
            AND NOT EXISTS (SELECT 1 FROM work_items w WHERE w.job_id = s.job_id AND w.name = s.name) ORDER BY s.position
            """, step).compactMap { $0.string("name") }
        try db.execute("""
            INSERT INTO work_items (id, job_id, name, position, status, phase, params_json, params_fingerprint,
            fingerprint_version, created_at, updated_at)
            SELECT s.item_id, s.job_id, s.name, s.position, 'pending', 'collect', s.params_json, s.params_fingerprint, ?, ?, ?
            FROM submit_items s WHERE s.job_id = ? AND s.position <= ?
            AND NOT EXISTS (SELECT 1 FROM work_items w WHERE w.job_id = s.job_id AND w.name = s.name)
            """, [.integer(Int64(version)), .real(now), .real(now)] + step)
        try db.execute("""
            INSERT INTO events (item_id, job_id, attempt, from_status, to_status, at)
            SELECT s.item_id, s.job_id, 1, NULL, 'pending', ? FROM submit_items s CROSS JOIN work_items w ON w.id = s.item_id
            WHERE s.job_id = ? AND s.position <= ?
            """, [.real(now)] + step)
        try db.execute("DELETE FROM submit_items WHERE job_id = ? AND position <= ?", step)
        return AppliedStep(added: Array(added.prefix(submitResultNames)), addedCount: added.count,
                           changed: Array(changed.prefix(submitResultNames)), changedCount: changed.count)
    }

    /// Records the creation event of a step of a new job's items, in position order from where the
    /// last step ended (`jobs.submit_applied`, so a submit finished by another engine goes on from
    /// there); false when every item has its event.
    private static func recordCreations(_ db: Connection, jobID: String) throws -> Bool {
        let after = try db.execute("SELECT submit_applied FROM jobs WHERE id = ?", [.text(jobID)]).first?.int64("submit_applied") ?? -1
        // The step's last position first, as `applyStep` bounds its step: then one range drives both writes.
        guard let last = try db.execute("""
            SELECT MAX(position) AS last FROM (SELECT position FROM work_items WHERE job_id = ? AND position > ? ORDER BY position LIMIT ?)
            """, [.text(jobID), .integer(after), .integer(Int64(creationStep))]).first?.int64("last") else { return false }
        try db.execute("""
            INSERT INTO events (item_id, job_id, attempt, from_status, to_status, at)
            SELECT id, job_id, 1, NULL, 'pending', ? FROM work_items WHERE job_id = ? AND position > ? AND position <= ?
            """, [.real(now), .text(jobID), .integer(after), .integer(last)])
        try db.execute("UPDATE jobs SET submit_applied = ? WHERE id = ?", [.integer(last), .text(jobID)])
        return true
    }

    /// Gives a step of the items the new version does not list its fingerprint; false when none are left.
    private static func refreshUnlisted(_ db: Connection, jobID: String, version: Int, fingerprint: ParameterFingerprint) throws -> Bool {
        let rows = try db.execute("""
            SELECT id, params_json FROM work_items WHERE job_id = ? AND (fingerprint_version IS NULL OR fingerprint_version != ?)
            ORDER BY position LIMIT ?
            """, [.text(jobID), .integer(Int64(version)), .integer(Int64(submitStep))])
        guard !rows.isEmpty else { return false }
        var next = (try db.execute("SELECT MAX(position) AS p FROM work_items WHERE job_id = ?", [.text(jobID)]).first?.int("p") ?? 0) + 1
        for row in rows {
            try db.execute("UPDATE work_items SET params_fingerprint = ?, fingerprint_version = ?, position = ? WHERE id = ?",
                           [.text(fingerprint.of(try decodeParams(row))), .integer(Int64(version)), .integer(Int64(next)), row["id"]])
            next += 1
        }
        return true
    }

    /// Discards a submit still staging: its staged items, the targets it claimed and, for a new
    /// job, the job row. A step at a time; the job as it was before the submit is untouched.
    package func discardSubmit(jobID: String, owner: String) async throws {
        // A new job's items (`stage` wrote them in place; none has an event or a checkpoint yet).
        while try await writer.write({ db in
            try Self.checkOwner(db, jobID: jobID, owner: owner)
            try db.execute("""
                DELETE FROM work_items WHERE id IN (SELECT w.id FROM work_items w JOIN jobs j ON j.id = w.job_id
                WHERE w.job_id = ? AND j.spec_version = 0 LIMIT ?)
                """, [.text(jobID), .integer(Int64(Self.submitStep))])
            return db.changes > 0
        }) {}
        while try await writer.write({ db in
            try Self.checkOwner(db, jobID: jobID, owner: owner)
            try db.execute("""
                DELETE FROM submit_items WHERE job_id = ? AND name IN
                (SELECT name FROM submit_items WHERE job_id = ? LIMIT ?)
                """, [.text(jobID), .text(jobID), .integer(Int64(Self.submitStep))])
            return db.changes > 0
        }) {}
        try await writer.write { db in
            try Self.checkOwner(db, jobID: jobID, owner: owner)
            try db.execute("DELETE FROM sink_targets WHERE job_id = ? AND staged = 1", [.text(jobID)])
            try db.execute("DELETE FROM jobs WHERE id = ? AND spec_version = 0", [.text(jobID)])
            try db.execute("""
                UPDATE jobs SET submit_state = 'ready', submit_owner = NULL, next_settings_json = NULL, next_base_directory = NULL
                WHERE id = ?
                """, [.text(jobID)])
        }
    }

    /// Submits whose engine stopped before they ended, with the engine that ran each: the caller
    /// decides which of those engines are dead (`DeadOwnerSweep`'s judgment).
    package func unfinishedSubmits() throws -> [UnfinishedSubmit] {
        try reader.sync { db in
            try db.execute("SELECT id, name, submit_owner, submit_state FROM jobs WHERE submit_state != 'ready'").map { row in
                UnfinishedSubmit(jobID: try Self.decoded(row, "id", in: "jobs", as: UUID.init(uuidString:)),
                                 jobName: row.string("name") ?? "", owner: row.string("submit_owner") ?? "",
                                 applying: row.string("submit_state") == "applying")
            }
        }
    }

    /// Ends, as `owner`, a submit whose engine died: discarded while it was staging, finished once
    /// applying. It is taken over first, in one compare-and-set: of two engines ending it at once,
    /// one does and the other finds nothing to do.
    package func endUnfinishedSubmit(_ submit: UnfinishedSubmit, by owner: String) async throws {
        let id = submit.jobID.uuidString.lowercased()
        let taken = try await writer.write { db in
            try db.execute("""
                UPDATE jobs SET submit_owner = ? WHERE id = ? AND submit_owner = ? AND submit_state = ?
                """, [.text(owner), .text(id), .text(submit.owner), .text(submit.applying ? "applying" : "staging")])
            return db.changes == 1
        }
        guard taken else { return }
        guard submit.applying else { return try await discardSubmit(jobID: id, owner: owner) }
        let row = try await reader.run { db in
            try db.execute("SELECT next_settings_json, next_base_directory, spec_version FROM jobs WHERE id = ?", [.text(id)]).first
        }
        guard let row, let json = row.data("next_settings_json"),
              let spec = JobSpec.read(try JSONValue.parse(json), withoutItems: true).0 else {
            throw EngineError(.storeUnusable, "the unfinished submit of job \(submit.jobName) cannot be read; the store is damaged")
        }
        _ = try await apply(jobID: id, owner: owner, spec: spec, baseDirectory: row.string("next_base_directory") ?? "",
                            created: row.int("spec_version") == 0)
    }

    /// Records `jobID` as the owner of each target, refusing targets another job owns, protected
    /// paths and, for targets nobody owns yet, any that already hold data. A job submitted again
    /// adopts the unowned targets of the items it already had: a store of an earlier engine
    /// recorded no owners. Targets new to the job are marked staged until the submit ends.
    private static func claim(_ targets: [SinkTarget], _ db: Connection, jobID: String, jobName: String,
                              protecting: ProtectedPaths, problems: inout SubmitProblems) throws {
        for target in targets {
            if let what = protecting.what(target.file) {
                problems.addProtected(target, what)
                continue
            }
            if let owner = try db.execute("""
                SELECT s.job_id, j.name FROM sink_targets s JOIN jobs j ON j.id = s.job_id WHERE s.target = ?
                """, [.text(target.key)]).first {
                if owner.string("job_id") != jobID {
                    problems.addOwned(target, by: owner.string("name") ?? "?")
                }
                continue
            }
            let adopted = try target.item.map { name in
                try !db.execute("SELECT 1 FROM work_items WHERE job_id = ? AND name = ?", [.text(jobID), .text(name)]).isEmpty
            } ?? !db.execute("SELECT 1 FROM work_items WHERE job_id = ? LIMIT 1", [.text(jobID)]).isEmpty
            if !adopted && target.holdsForeignData(job: jobName) {
                problems.addForeignData(target, job: jobName)
            }
            try db.execute("INSERT INTO sink_targets (target, job_id, created_at, staged) VALUES (?, ?, ?, 1)",
                           [.text(target.key), .text(jobID), .real(now)])
        }
    }
}

/// The problems a submit found: the first `Store.problemLimit` in full, the rest counted.
package struct SubmitProblems: Sendable {
    private(set) var listed: [SpecProblem] = []
    private(set) var more = 0

    package init() {}

    package var isEmpty: Bool { listed.isEmpty }

    package mutating func add(_ problem: SpecProblem) {
        if listed.count < Store.problemLimit { listed.append(problem) } else { more += 1 }
    }

    /// Adds another list's problems after these, its counted ones too.
    mutating func add(contentsOf other: SubmitProblems) {
        for problem in other.listed { add(problem) }
        more += other.more
    }

    /// Item `name` at `position` repeats the one at `first` (a line of the items file, or an index of `items`).
    package mutating func addDuplicate(_ name: String, at position: Int, first: Int, fromFile: Bool) {
        add(fromFile
            ? ItemsFile.problem(position, "name", "duplicate item name \"\(name)\" (also line \(first))")
            : SpecProblem(field: "items[\(position)].name", message: "duplicate item name \"\(name)\" (also items[\(first)])"))
    }

    /// A sink target is a path no sink may write (`what` says which: the store, the spec, …).
    package mutating func addProtected(_ target: SinkTarget, _ what: String) {
        add(SpecProblem(field: "ingester.path", message: "\(target.file) is \(what); a sink may never write there: choose another path"))
    }

    /// A sink target belongs to another job (invariant 7).
    package mutating func addOwned(_ target: SinkTarget, by job: String) {
        add(SpecProblem(field: "ingester.path", message:
            "\(target.description) belongs to job \(job); a sink target belongs to one job: choose another path"))
    }

    /// A sink target nobody owns already holds data another writer put there.
    package mutating func addForeignData(_ target: SinkTarget, job: String) {
        add(SpecProblem(field: "ingester.path", message:
            "\(target.description) exists and was not written by job \(job); remove it or choose another path"))
    }

    /// The error refusing the spec, or nil when nothing was found.
    package var error: EngineError? {
        guard !listed.isEmpty else { return nil }
        let all = listed + (more > 0 ? [SpecProblem(field: "items", message: "… and \(more) more problem\(more == 1 ? "" : "s") like these")] : [])
        return JobSpec.invalid(all)
    }
}
