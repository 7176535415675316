import Foundation
import JobEngineTestSupport
import Testing

import JobEngine

/// Collectors and ingesters with async APIs, through the public façade only (issue 11).
@Suite(.limit(minutes: 1)) struct AsyncComponentsTests {
    /// Pages of 10 numbered documents from an "async API".
    struct AsyncPagedSource: AsyncCollector {
        let pages: Int

        func page(after cursor: String?, for item: ItemContext) async throws -> Page {
            try await Task.sleep(for: .milliseconds(1))
            let number = Int(cursor ?? "0") ?? 0
            let documents = (number * 10..<(number + 1) * 10).map { Document(key: "\(item.itemName)-\($0)", body: Data("{}".utf8)) }
            return Page(documents: documents, next: number + 1 < pages ? String(number + 1) : nil)
        }
    }

    actor Received {
        private(set) var seqs: [String: [Int]] = [:]
        func add(_ item: String, _ seq: [Int]) { seqs[item, default: []] += seq }
        func drop(_ item: String) { seqs[item] = nil }
    }

    /// An "async sink" keeping what it was sent, by item.
    struct AsyncMemorySink: AsyncIngester {
        let received: Received

        func ingest(_ batch: Batch) async throws -> Int64? {
            await received.add(batch.item.itemName, batch.documents.map(\.seq))
            return nil
        }

        func reset(for item: ItemContext) async throws {
            await received.drop(item.itemName)
        }
    }

    @Test func asyncCollectorsAndIngestersRunFailAndRecoverLikeSynchronousOnes() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("async-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let engine = try Engine(storePath: folder.appendingPathComponent("engine.sqlite").path)
        let received = Received()
        engine.register(asyncCollector: "async-pages") { _, _ in AsyncPagedSource(pages: 4) }
        engine.register(asyncIngester: "async-memory") { _, _ in AsyncMemorySink(received: received) }
        let spec = JobSpec(name: "async", collector: ComponentSpec(type: "async-pages"),
                           ingester: ComponentSpec(type: "async-memory", options: ["batch_size": 15]),
                           items: [ItemSpec(name: "a"), ItemSpec(name: "b")],
                           faults: [FaultSpec(item: "b", phase: .ingest, atDocument: 20)])
        let job = try await engine.submit(spec, baseDirectory: folder).job
        let first = try await engine.run(jobID: job.id)
        let failed = try #require(first.failed.first)
        #expect(failed.name == "b" && failed.ingested == 15)
        _ = try await engine.retry([failed.id], mode: .recover)
        let summary = try await engine.run(jobID: job.id)
        #expect(summary.allSucceeded)
        #expect(summary.items.map(\.collectedTotal) == [40, 40])  // recover collected nothing again
        let seqs = await received.seqs
        #expect(seqs["a"] == Array(0..<40) && seqs["b"] == Array(0..<40), "\(seqs)")
        await engine.shutdown()
    }
}
