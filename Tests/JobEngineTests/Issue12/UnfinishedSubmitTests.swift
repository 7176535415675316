import Foundation
import JobEngineTestSupport
import Testing

@testable import JobEngine

/// Issue 12: a submit whose engine died half-way is discarded (still staging) or finished
/// (applying) by the next engine, and no half-submitted job ever runs.
@Suite(.limit(minutes: 1)) struct UnfinishedSubmitTests {
    /// The owner id of an engine that died on this host: its lock file is there, and nobody holds it.
    static func deadOwner(_ folder: TemporaryDirectory) throws -> String {
        let owner = OwnerLock.makeOwnerID()
        let lock = try OwnerLock(owner: owner, directory: URL(fileURLWithPath: folder.storePath + ".owners"))
        lock.release(removingFile: false)
        return owner
    }

    /// Whether a claim of the job's version 0 (all a half-submitted new job has) finds nothing.
    static func claimAtVersionZero(_ engine: Engine, _ jobID: UUID) throws -> Bool {
        guard case .nothing = try engine.store.claimNext(jobID: jobID, specVersion: 0, owner: engine.owner, leaseSeconds: 30,
                                                         onClaim: { _ in }) else { return false }
        return true
    }

    @Test func aSubmitThatDiedWhileStagingIsDiscardedAndNeverRuns() async throws {
        let folder = try TemporaryDirectory()
        try Engine(storePath: folder.storePath, logger: quietLogger).close()  // creates the store
        let dead = try Self.deadOwner(folder)
        // What a dying engine leaves: a new job at version 0 with a few staged items and a target.
        let connection = try Connection(path: folder.storePath)
        try connection.execute("""
            INSERT INTO jobs (id, name, spec_json, settings_json, spec_version, base_directory, created_at, updated_at,
            submit_state, submit_owner, next_settings_json, next_base_directory)
            VALUES ('00000000-0000-0000-0000-000000000001', 'ghost', '{}', '{}', 0, '/', 0, 0, 'staging', ?, '{}', '/')
            """, [.text(dead)])
        for n in 0..<3 {
            try connection.execute("""
                INSERT INTO submit_items VALUES ('00000000-0000-0000-0000-000000000001', ?, ?, ?, '{}', 'f')
                """, [.text("s\(n)"), .integer(Int64(n)), .text(UUID().uuidString.lowercased())])
        }
        try connection.execute("INSERT INTO sink_targets VALUES ('file:/tmp/ghost', '00000000-0000-0000-0000-000000000001', 0, 1)")
        connection.close()

        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        #expect(try await engine.jobs().isEmpty)  // invisible while staging
        _ = try await engine.recoverInterrupted()
        #expect(try query(folder.storePath, "SELECT (SELECT COUNT(*) FROM jobs) + (SELECT COUNT(*) FROM submit_items) + (SELECT COUNT(*) FROM sink_targets) AS n").first?.int("n") == 0)
        // The name is free again.
        let job = try await engine.submit(makeSpec(name: "ghost", items: ["a"], documents: 1), baseDirectory: folder.url).job
        #expect(try await engine.run(jobID: job.id).allSucceeded)
        engine.close()
    }

    @Test func aSubmitThatDiedWhileApplyingIsFinishedAndItsJobRunsOnlyThen() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let job = try await engine.submit(makeSpec(items: ["a", "b"], documents: 1), baseDirectory: folder.url).job
        engine.close()
        let dead = try Self.deadOwner(folder)
        // Half applied: "c" still staged, "a" already moved with its new params (version 2 marks it).
        let connection = try Connection(path: folder.storePath)
        let id = job.id.uuidString.lowercased()
        try connection.execute("""
            UPDATE jobs SET submit_state = 'applying', submit_owner = ?, next_settings_json = settings_json,
            next_base_directory = base_directory WHERE id = ?
            """, [.text(dead), .text(id)])
        try connection.execute("UPDATE work_items SET fingerprint_version = 2, position = 0 WHERE job_id = ? AND name = 'a'", [.text(id)])
        try connection.execute("INSERT INTO submit_items VALUES (?, 'c', 1, ?, '{}', 'f')", [.text(id), .text(UUID().uuidString.lowercased())])
        connection.close()

        let next = try Engine(storePath: folder.storePath, logger: quietLogger)
        // While applying, nothing of the job can be claimed.
        #expect(try claimDirectly(next, jobID: job.id) == nil)
        let summary = try await next.run(jobID: job.id)  // finishes the dead submit first
        #expect(summary.job.specVersion == 2)
        #expect(summary.items.map(\.name) == ["a", "c", "b"] && summary.allSucceeded)
        #expect(try query(folder.storePath, "SELECT submit_state FROM jobs").first?.string("submit_state") == "ready")
        #expect(try query(folder.storePath, "SELECT COUNT(*) AS n FROM submit_items").first?.int("n") == 0)
        next.close()
    }

    /// A new job's items are written in place while it is invisible: a submit that died then leaves
    /// items in `work_items`, which the next engine deletes with the job.
    @Test func aNewJobWhoseSubmitDiedWhileStagingLeavesNoItemBehind() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let job = try await engine.submit(makeSpec(name: "ghost", items: ["a", "b", "c"], documents: 1), baseDirectory: folder.url).job
        engine.close()
        let dead = try Self.deadOwner(folder)
        // Back to where the dying engine was: version 0, staging, items written, no events yet.
        let id = job.id.uuidString.lowercased()
        try query(folder.storePath, "DROP TRIGGER events_no_delete")
        try query(folder.storePath, "DELETE FROM events")
        try query(folder.storePath, "UPDATE sink_targets SET staged = 1")
        try query(folder.storePath, "UPDATE jobs SET spec_version = 0, submit_state = 'staging', submit_owner = ? WHERE id = ?",
                  [.text(dead), .text(id)])
        let next = try Engine(storePath: folder.storePath, logger: quietLogger)
        #expect(try await next.jobs().isEmpty)  // invisible while staging
        #expect(try await next.allItems().isEmpty)
        #expect(try Self.claimAtVersionZero(next, job.id))
        _ = try await next.recoverInterrupted()
        #expect(try query(folder.storePath, """
            SELECT (SELECT COUNT(*) FROM jobs) + (SELECT COUNT(*) FROM work_items) + (SELECT COUNT(*) FROM sink_targets) AS n
            """).first?.int("n") == 0)
        next.close()
    }

    /// A new job's submit that died while writing its items' creation events is finished from the
    /// event it had reached: every item ends with exactly one.
    @Test func aNewJobWhoseSubmitDiedWritingEventsIsFinishedWithOneEventPerItem() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let names = (0..<5).map { "i\($0)" }
        let job = try await engine.submit(makeSpec(items: names, documents: 1), baseDirectory: folder.url).job
        engine.close()
        let dead = try Self.deadOwner(folder)
        let id = job.id.uuidString.lowercased()
        // Events written for the first two items (positions 0 and 1), the rest not yet.
        try query(folder.storePath, "DROP TRIGGER events_no_delete")
        try query(folder.storePath, "DELETE FROM events WHERE item_id IN (SELECT id FROM work_items WHERE position >= 2)")
        try query(folder.storePath, """
            UPDATE jobs SET spec_version = 0, submit_state = 'applying', submit_owner = ?, submit_applied = 1,
            next_settings_json = settings_json, next_base_directory = base_directory WHERE id = ?
            """, [.text(dead), .text(id)])
        let next = try Engine(storePath: folder.storePath, logger: quietLogger)
        #expect(try Self.claimAtVersionZero(next, job.id))
        let summary = try await next.run(jobID: job.id)  // finishes the dead submit first
        #expect(summary.job.specVersion == 1 && summary.allSucceeded)
        #expect(summary.items.map(\.name) == names)
        let creations = try query(folder.storePath, "SELECT item_id, COUNT(*) AS n FROM events WHERE from_status IS NULL GROUP BY item_id")
        #expect(creations.count == 5 && creations.allSatisfy { $0.int("n") == 1 })
        next.close()
    }

    /// A submit cancelled while it streams a large items file either finished before the cancel or
    /// left nothing: never a job with part of its items.
    @Test func aCancelledSubmitLeavesTheWholeJobOrNothing() async throws {
        let folder = try TemporaryDirectory()
        let lines = (0..<30_000).map { #"{"name": "q\#($0)", "params": {"n": \#($0)}}"# }.joined(separator: "\n")
        try lines.write(to: folder.url.appendingPathComponent("items.jsonl"), atomically: true, encoding: .utf8)
        try #"""
            {"name": "big", "collector": {"type": "synthetic", "documents": 1}, "ingester": {"type": "jsonl", "path": "out/{item}.jsonl"},
             "items_file": "items.jsonl"}
            """#.write(to: folder.url.appendingPathComponent("spec.json"), atomically: true, encoding: .utf8)
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let submit = Task { try await engine.submit(specAt: folder.url.appendingPathComponent("spec.json")) }
        try await Task.sleep(for: .milliseconds(150))
        submit.cancel()
        let outcome = await submit.result
        let counts = try query(folder.storePath, """
            SELECT (SELECT COUNT(*) FROM jobs) AS jobs, (SELECT COUNT(*) FROM work_items) AS items,
            (SELECT COUNT(*) FROM submit_items) AS staged, (SELECT COUNT(*) FROM events) AS events
            """).first
        switch outcome {
        case .success(let result):
            #expect(result.addedCount == 30_000)
            #expect(counts?.int("jobs") == 1 && counts?.int("items") == 30_000 && counts?.int("events") == 30_000)
        case .failure(let error):
            #expect(error is CancellationError, "\(error)")
            #expect(counts?.int("jobs") == 0 && counts?.int("items") == 0 && counts?.int("events") == 0)
        }
        #expect(counts?.int("staged") == 0)
        #expect(try await engine.jobs().count == (try? outcome.get()) .map { _ in 1 } ?? 0)
        engine.close()
    }

    @Test func aLiveEnginesSubmitIsLeftAlone() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let job = try await engine.submit(makeSpec(items: ["a"], documents: 1), baseDirectory: folder.url).job
        let other = try Engine(storePath: folder.storePath, logger: quietLogger)  // alive: its lock is held
        try query(folder.storePath, "UPDATE jobs SET submit_state = 'staging', submit_owner = ? WHERE id = ?",
                  [.text(other.owner), .text(job.id.uuidString.lowercased())])
        _ = try await engine.recoverInterrupted()
        #expect(try query(folder.storePath, "SELECT submit_state FROM jobs").first?.string("submit_state") == "staging")
        other.close()
        engine.close()
    }
}
