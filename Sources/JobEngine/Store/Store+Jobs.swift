import Foundation

extension Store {
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

    /// The job with this id, as a run needs it.
    package func runtimeJob(_ id: UUID) async throws -> Job? {
        try await reader.run { db in try Self.job(db, where: "id = ?", .text(id.uuidString.lowercased())) }
    }

    /// Every job, oldest first.
    package func jobs() async throws -> [Job] {
        try await reader.run { db in try Self.jobs(db) }
    }

    static func jobs(_ db: Connection) throws -> [Job] {
        try db.execute("SELECT * FROM jobs WHERE spec_version > 0 ORDER BY created_at, name").map(decodeJob)
    }

    /// Marks a job cancelled: its pending items become `cancelled` now; running ones stop at their
    /// next checkpoint. Returns how many pending items were cancelled.
    @discardableResult
    package func cancelJob(_ jobID: UUID) async throws -> Int {
        try await writer.write { db in
            let id = jobID.uuidString.lowercased()
            try db.execute("UPDATE jobs SET cancelled = 1, updated_at = ? WHERE id = ?", [.real(Self.now), .text(id)])
            // Set-based: a job of a million pending items is cancelled in two statements.
            try db.execute("""
                INSERT INTO events (item_id, job_id, attempt, from_status, to_status, at)
                SELECT id, job_id, attempt, 'pending', 'cancelled', ? FROM work_items WHERE job_id = ? AND status = 'pending'
                """, [.real(Self.now), .text(id)])
            try db.execute("UPDATE work_items SET status = 'cancelled', updated_at = ? WHERE job_id = ? AND status = 'pending'",
                           [.real(Self.now), .text(id)])
            return db.changes
        }
    }

    /// The job a row matching `condition` holds; a job whose first submit is still being written
    /// (spec version 0) does not exist yet.
    static func job(_ db: Connection, where condition: String, _ argument: SQLValue) throws -> Job? {
        try db.execute("SELECT * FROM jobs WHERE \(condition) AND spec_version > 0", [argument]).first.map(decodeJob)
    }

    /// Decodes a job row: its settings, never its item list (a job's items are its `work_items`
    /// rows; `spec.items` is empty). The stored spec was validated when it was submitted, so it is
    /// read as it is, without a validation that could fail: an engine whose rules changed since must
    /// still show every job. Only a spec that cannot be read at all leaves a placeholder and a `specError`.
    package static func decodeJob(_ row: Row) throws -> Job {
        let column = "settings_json"
        let name = row.string("name") ?? ""
        var spec: JobSpec?
        var specError: String?
        do {
            let (read, problems) = JobSpec.read(try JSONValue.parse(row.data(column) ?? Data()), withoutItems: true)
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
