import Foundation
import Testing

@testable import JobEngine

/// Invariant 1: a page's documents and its cursor commit together or not at all; a batch's
/// checkpoint commits only after the sink write.
@Suite struct CheckpointTests {
    @Test(arguments: ["memory", "file"])
    func aPageThatFailsMidWayStagesNothingAndKeepsTheCursor(kind: String) async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: kind == "memory" ? ":memory:" : folder.storePath)
        let job = try await engine.submit(makeSpec(documents: 200, pageSize: 50), baseDirectory: folder.url).job
        // The 24th document of the second page makes its INSERT fail, after 23 rows of the page were written.
        try engine.sqliteStore.writer.sync { db in
            try db.execute("""
                CREATE TEMP TRIGGER fail_mid_page BEFORE INSERT ON staged_documents WHEN NEW.key = 'q1-73'
                BEGIN SELECT RAISE(ABORT, 'disk full'); END
                """)
        }
        let item = try #require(try await engine.run(jobID: job.id).items.first)
        #expect(item.status == .failed && item.lastError?.contains("disk full") == true)
        #expect(item.collected == 50 && item.collectedTotal == 50)

        let (staged, cursor) = try engine.sqliteStore.writer.sync { db in
            (try db.execute("SELECT COUNT(*) AS n, MAX(seq) AS top FROM staged_documents").first,
             try db.execute("SELECT cursor, documents FROM checkpoints WHERE phase = 'collect'").first)
        }
        #expect(staged?.int("n") == 50 && staged?.int("top") == 49)
        #expect(cursor?.string("cursor") == "50" && cursor?.int("documents") == 50)

        // Once the cause is gone, recover continues from that cursor.
        try engine.sqliteStore.writer.sync { db in try db.execute("DROP TRIGGER temp.fail_mid_page") }
        _ = try await engine.retry([item.id], mode: .recover)
        let done = try #require(try await engine.run(jobID: job.id).items.first)
        #expect(done.status == .succeeded && done.collectedTotal == 200)
        #expect(try jsonlSeqs(folder.path("out/q1.jsonl")) == Array(0..<200))
        engine.close()
    }

    @Test func aBatchIsCheckpointedOnlyAfterTheSinkWrite() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath)
        let observed = Recorder<String>()
        let storePath = folder.storePath
        engine.register(ingester: "witness") { _, _ in try WitnessIngester(storePath: storePath, observed: observed, failAt: 120) }
        var spec = makeSpec(documents: 200, batchSize: 40)
        spec.ingester = ComponentSpec(type: "witness", options: ["batch_size": 40])
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        let item = try #require(try await engine.run(jobID: job.id).items.first)

        // While each batch was being delivered, the stored checkpoint still showed the previous batch.
        #expect(observed.values == ["deliver 0-39 with checkpoint none", "deliver 40-79 with checkpoint 40",
                                    "deliver 80-119 with checkpoint 80", "deliver 120-159 with checkpoint 120"])
        // The failed batch left the checkpoint where the last good one put it.
        #expect(item.status == .failed && item.ingested == 120)
        #expect(try query(folder.storePath, "SELECT documents FROM checkpoints WHERE phase = 'ingest'").first?.int("documents") == 120)
        engine.close()
    }

    @Test func theFileSinkStoresItsLengthWithEachCheckpointAndCutsWhatCameAfter() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath)
        let spec = makeSpec(documents: 100, batchSize: 30,
                            faults: [FaultSpec(item: "q1", phase: .ingest, atDocument: 70, message: "sink timed out")])
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        let item = try #require(try await engine.run(jobID: job.id).items.first)
        let sinkFile = folder.path("out/q1.jsonl")
        let offset = try #require(try query(folder.storePath, "SELECT sink_offset FROM checkpoints WHERE phase = 'ingest'").first?.int("sink_offset"))
        #expect(offset == (try FileManager.default.attributesOfItem(atPath: sinkFile)[.size] as? Int))
        // A torn write after the checkpoint (what a crash mid-write leaves) is cut before recover continues.
        let handle = try #require(FileHandle(forWritingAtPath: sinkFile))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"item\":\"q1\",\"seq\":60,\"key\":\"q1-6".utf8))
        try handle.close()
        _ = try await engine.retry([item.id], mode: .recover)
        #expect(try await engine.run(jobID: job.id).allSucceeded)
        #expect(try jsonlSeqs(sinkFile) == Array(0..<100))
        engine.close()
    }
}

/// Records, for each batch, the ingest checkpoint the store holds while the batch is delivered.
final class WitnessIngester: Ingester {
    let connection: Connection
    let observed: Recorder<String>
    let failAt: Int

    init(storePath: String, observed: Recorder<String>, failAt: Int) throws {
        connection = try Connection(path: storePath, readOnly: true)
        self.observed = observed
        self.failAt = failAt
    }

    func ingest(_ batch: Batch) throws -> Int64? {
        let stored = try connection.execute("SELECT documents FROM checkpoints WHERE phase = 'ingest'").first?.int("documents")
        observed.append("deliver \(batch.documents[0].seq)-\(batch.documents.last!.seq) with checkpoint \(stored.map(String.init) ?? "none")")
        if batch.documents[0].seq == failAt { throw PhaseError.transient("sink rejected the batch") }
        return nil
    }
}
