import Foundation

extension Store {
    /// Records `spec`: a new job with its items `pending`, or, for a name already known, the next
    /// spec version with each item's current parameter fingerprint updated and new items added.
    /// The job takes ownership of its sink `targets` (invariant 7). One transaction: on any error
    /// (a target another job owns, or one holding data no job of this store wrote) nothing is written.
    package func submit(_ spec: JobSpec, baseDirectory: String, targets: [SinkTarget] = []) async throws -> SubmitResult {
        let specJSON = String(decoding: spec.jsonValue.canonicalJSON(), as: UTF8.self)
        var settings = spec
        settings.items = []
        let settingsJSON = String(decoding: settings.jsonValue.canonicalJSON(), as: UTF8.self)
        return try await writer.write { db in
            let now = Self.now
            let existing = try db.execute("SELECT id, spec_version FROM jobs WHERE name = ?", [.text(spec.name)]).first
            let jobID: String
            if let existing {
                jobID = existing.string("id")!
                try db.execute("""
                    UPDATE jobs SET spec_json = ?, settings_json = ?, spec_version = spec_version + 1, base_directory = ?,
                    cancelled = 0, updated_at = ? WHERE id = ?
                    """, [.text(specJSON), .text(settingsJSON), .text(baseDirectory), .real(now), .text(jobID)])
            } else {
                jobID = UUID().uuidString.lowercased()
                try db.execute("""
                    INSERT INTO jobs (id, name, spec_json, settings_json, spec_version, base_directory, created_at, updated_at)
                    VALUES (?, ?, ?, ?, 1, ?, ?, ?)
                    """, [.text(jobID), .text(spec.name), .text(specJSON), .text(settingsJSON), .text(baseDirectory),
                          .real(now), .real(now)])
            }
            try Self.claim(targets, db, jobID: jobID, jobName: spec.name, resubmitted: existing != nil)
            var added: [String] = []
            var changed: [String] = []
            for (position, item) in spec.items.enumerated() {
                let fingerprint = ParameterFingerprint.of(spec: spec, item: item, baseDirectory: baseDirectory)
                let params = String(decoding: JSONValue.object(item.params).canonicalJSON(), as: UTF8.self)
                let row = try db.execute(
                    "SELECT id, checkpoint_fingerprint FROM work_items WHERE job_id = ? AND name = ?",
                    [.text(jobID), .text(item.name)]).first
                if let row {
                    try db.execute("""
                        UPDATE work_items SET params_json = ?, params_fingerprint = ?, position = ?, updated_at = ?
                        WHERE id = ?
                        """, [.text(params), .text(fingerprint), .integer(Int64(position)), .real(now), row["id"]])
                    if let made = row.string("checkpoint_fingerprint"), made != fingerprint { changed.append(item.name) }
                } else {
                    let itemID = UUID().uuidString.lowercased()
                    try db.execute("""
                        INSERT INTO work_items (id, job_id, name, position, status, phase, params_json, params_fingerprint,
                        created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', 'collect', ?, ?, ?, ?)
                        """, [.text(itemID), .text(jobID), .text(item.name), .integer(Int64(position)), .text(params),
                              .text(fingerprint), .real(now), .real(now)])
                    try Self.recordEvent(db, itemID: itemID, jobID: jobID, attempt: 1, from: nil, to: .pending)
                    added.append(item.name)
                }
            }
            // Items this version no longer lists keep their params, but the job's collector, ingester
            // and folder are now this spec's: their fingerprint changes with them, so a recover queued
            // for one of them restarts when claimed instead of resuming under the new settings.
            if existing != nil {
                let listed = Set(spec.items.map(\.name))
                for row in try db.execute("SELECT id, name, params_json FROM work_items WHERE job_id = ?", [.text(jobID)])
                where !listed.contains(row.string("name") ?? "") {
                    let item = ItemSpec(name: row.string("name") ?? "", params: try Self.decodeParams(row))
                    let fingerprint = ParameterFingerprint.of(spec: spec, item: item, baseDirectory: baseDirectory)
                    try db.execute("UPDATE work_items SET params_fingerprint = ? WHERE id = ?", [.text(fingerprint), row["id"]])
                }
            }
            guard let job = try Self.job(db, where: "id = ?", .text(jobID)) else {
                preconditionFailure("job \(jobID) vanished inside its own transaction")
            }
            return SubmitResult(job: job, created: existing == nil, addedItems: added, changedItems: changed)
        }
    }

    /// Records `jobID` as the owner of each target, refusing targets another job owns and, for targets
    /// nobody owns yet, any that already hold data. A job submitted again adopts the unowned targets
    /// of the items it already had: a store of an earlier engine recorded no owners.
    private static func claim(_ targets: [SinkTarget], _ db: Connection, jobID: String, jobName: String, resubmitted: Bool) throws {
        guard !targets.isEmpty else { return }
        let known = resubmitted
            ? Set(try db.execute("SELECT name FROM work_items WHERE job_id = ?", [.text(jobID)]).compactMap { $0.string("name") })
            : []
        var problems: [SpecProblem] = []
        for target in targets {
            if let owner = try db.execute("""
                SELECT s.job_id, j.name FROM sink_targets s JOIN jobs j ON j.id = s.job_id WHERE s.target = ?
                """, [.text(target.key)]).first {
                if owner.string("job_id") != jobID {
                    problems.append(SpecProblem(field: "ingester.path", message:
                        "\(target.description) belongs to job \(owner.string("name") ?? "?"); a sink target belongs to one job: choose another path"))
                }
                continue
            }
            let adopted = target.item.map(known.contains) ?? !known.isEmpty
            if !adopted && target.holdsForeignData(job: jobName) {
                problems.append(SpecProblem(field: "ingester.path", message:
                    "\(target.description) exists and was not written by job \(jobName); remove it or choose another path"))
            }
            try db.execute("INSERT INTO sink_targets (target, job_id, created_at) VALUES (?, ?, ?)",
                           [.text(target.key), .text(jobID), .real(now)])
            if problems.count >= 100 { break }
        }
        guard problems.isEmpty else { throw JobSpec.invalid(problems) }
    }

    /// The job with this id, or with this name when `idOrName` is not a known id.
    package func job(_ idOrName: String) throws -> Job? {
        try reader.sync { db in try Self.job(db, idOrName: idOrName) }
    }

    /// As `job(_:)`, from async code.
    package func job(_ idOrName: String) async throws -> Job? {
        try await reader.run { db in try Self.job(db, idOrName: idOrName) }
    }

    private static func job(_ db: Connection, idOrName: String) throws -> Job? {
        try job(db, where: "id = ?", .text(idOrName.lowercased())) ?? job(db, where: "name = ?", .text(idOrName))
    }

    /// The job as a run needs it: its spec without the item list (`spec.items` is empty), which a
    /// job of 100,000 items would otherwise parse at every start. Items come from `work_items`.
    package func runtimeJob(_ id: UUID) async throws -> Job? {
        try await reader.run { db in
            try db.execute("SELECT * FROM jobs WHERE id = ?", [.text(id.uuidString.lowercased())]).first
                .map { try Self.decodeJob($0, column: "settings_json") }
        }
    }

    /// Every job, oldest first.
    package func jobs() async throws -> [Job] {
        try await reader.run { db in try Self.jobs(db) }
    }

    static func jobs(_ db: Connection) throws -> [Job] {
        try db.execute("SELECT * FROM jobs ORDER BY created_at, name").map { try decodeJob($0) }
    }

    /// Marks a job cancelled: its pending items become `cancelled` now; running ones stop at their
    /// next checkpoint. Returns how many pending items were cancelled.
    @discardableResult
    package func cancelJob(_ jobID: UUID) async throws -> Int {
        try await writer.write { db in
            let id = jobID.uuidString.lowercased()
            try db.execute("UPDATE jobs SET cancelled = 1, updated_at = ? WHERE id = ?", [.real(Self.now), .text(id)])
            let pending = try db.execute(
                "SELECT id, attempt FROM work_items WHERE job_id = ? AND status = 'pending'", [.text(id)])
            for row in pending {
                try db.execute("UPDATE work_items SET status = 'cancelled', updated_at = ? WHERE id = ?",
                               [.real(Self.now), row["id"]])
                try Self.recordEvent(db, itemID: row.string("id")!, jobID: id, attempt: row.int("attempt"),
                                     from: .pending, to: .cancelled)
            }
            return pending.count
        }
    }

    static func job(_ db: Connection, where condition: String, _ argument: SQLValue) throws -> Job? {
        try db.execute("SELECT * FROM jobs WHERE \(condition)", [argument]).first.map { try decodeJob($0) }
    }

    /// Decodes a job row. The stored spec was validated when it was submitted, so it is read as it
    /// is, without a validation that could fail: an engine whose rules changed since must still show
    /// every job. Only a spec that cannot be read at all leaves a placeholder and a `specError`.
    static func decodeJob(_ row: Row, column: String = "spec_json") throws -> Job {
        let name = row.string("name") ?? ""
        var spec: JobSpec?
        var specError: String?
        do {
            let (read, problems) = JobSpec.read(try JSONValue.parse(row.data(column) ?? Data()), withoutItems: column == "settings_json")
            spec = read
            if read == nil { specError = "the stored spec cannot be read: " + problems.map(\.description).joined(separator: "; ") }
        } catch {
            specError = "the stored spec is not JSON: \(error)"
        }
        return Job(
            id: try decoded(row, "id", in: "jobs", as: UUID.init(uuidString:)),
            name: name,
            specVersion: row.int("spec_version"),
            spec: spec ?? JobSpec(name: name, collector: ComponentSpec(type: "unreadable"),
                                  ingester: ComponentSpec(type: "unreadable"), items: []),
            baseDirectory: row.string("base_directory") ?? "",
            cancelled: row.int("cancelled") != 0,
            createdAt: Date(timeIntervalSince1970: row.double("created_at") ?? 0),
            updatedAt: Date(timeIntervalSince1970: row.double("updated_at") ?? 0),
            specError: specError)
    }
}
