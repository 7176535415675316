import Foundation
import Testing

@testable import JobEngine

/// `checkpoint.sync: full` reaches the store's connection (it reads SQLite's own setting).
@Suite struct SyncModeTests {
    @Test func fullSyncIsAppliedToCheckpointCommits() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        var spec = makeSpec(documents: 20)
        spec.checkpoint.sync = .full
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        #expect(try await engine.run(jobID: job.id).allSucceeded)
        let synchronous = try engine.sqliteStore.writer.sync { db in try db.execute("PRAGMA synchronous").first?.int("synchronous") }
        #expect(synchronous == 2)  // FULL
        engine.close()
    }
}
