import Foundation
import Testing

@testable import JobEngine

/// The SQLite sink's file layout: what kept the reference workload's sink at 4.6× its data.
@Suite struct SQLiteSinkTests {
    @Test func aNewSinkFileHas16KiBPagesAndKeepsKilobyteDocumentsInline() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        var spec = makeSpec(items: ["a", "b"], documents: 400, pageSize: 50, batchSize: 50, sink: "sqlite")
        spec.collector.options["document_bytes"] = 1024
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        #expect(try await engine.run(jobID: job.id).allSucceeded)
        engine.close()

        let sink = folder.path("sink.sqlite")
        #expect(try query(sink, "PRAGMA page_size").first?.int("page_size") == 16384)
        #expect(try query(sink, "PRAGMA journal_mode").first?.string("journal_mode") == "wal")
        // At 4 KiB pages each 1 KiB row spilled into a 4 KiB overflow page (~5 KiB a document).
        let pages = try #require(try query(sink, "PRAGMA page_count").first?.int("page_count"))
        let pageSize = try #require(try query(sink, "PRAGMA page_size").first?.int("page_size"))
        let dataBytes = 800 * 1024
        #expect(pages * pageSize < 2 * dataBytes, "the sink takes \(pages * pageSize) bytes for \(dataBytes) bytes of documents")
        #expect(try sqliteSinkRows(sink).count == 800)
    }

    @Test func anExistingSinkFileKeepsItsPageSize() async throws {
        let folder = try TemporaryDirectory()
        try query(folder.path("sink.sqlite"), "PRAGMA page_size = 4096")
        try query(folder.path("sink.sqlite"), "CREATE TABLE other (x)")
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let job = try await engine.submit(makeSpec(documents: 100, sink: "sqlite"), baseDirectory: folder.url).job
        #expect(try await engine.run(jobID: job.id).allSucceeded)
        engine.close()
        #expect(try query(folder.path("sink.sqlite"), "PRAGMA page_size").first?.int("page_size") == 4096)
        #expect(try sqliteSinkRows(folder.path("sink.sqlite")).count == 100)
    }
}
