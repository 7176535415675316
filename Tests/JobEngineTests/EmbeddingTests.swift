import Foundation
import Testing

import JobEngine

/// The README's embedding example, kept compiling and working here.
@Suite struct EmbeddingTests {
    /// A custom source: pages of a remote API. The cursor is the next page number.
    struct PagedAPICollector: Collector {
        let pages: Int
        func page(after cursor: String?, for item: ItemContext) throws -> Page {
            let number = Int(cursor ?? "0")!
            let docs = (0..<10).map { Document(key: "\(item.itemName)-\(number)-\($0)", body: Data("{\"n\":\($0)}".utf8)) }
            return Page(documents: docs, next: number + 1 < pages ? String(number + 1) : nil)
        }
    }

    @Test func theReadmeExampleWorks() async throws {
        let folder = try TemporaryDirectory()
        // --- README example starts here ---
        let engine = try Engine(storePath: folder.storePath)
        engine.register(collector: "paged-api") { context, _ in
            guard case .number(let pages)? = context.options["pages"] else { throw PhaseError.permanent("pages missing") }
            return PagedAPICollector(pages: Int(pages))
        }
        let spec = JobSpec(
            name: "catalog",
            collector: ComponentSpec(type: "paged-api", options: ["pages": 5]),
            ingester: ComponentSpec(type: "sqlite", options: ["path": "catalog.sqlite", "batch_size": 25]),
            items: [ItemSpec(name: "books"), ItemSpec(name: "music")])
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        var summary = try await engine.run(jobID: job.id)
        if !summary.failed.isEmpty {
            _ = try await engine.retry(summary.failed.map(\.id), mode: .recover)
            summary = try await engine.run(jobID: job.id)
        }
        await engine.shutdown()
        // --- README example ends here ---
        #expect(summary.allSucceeded)
        #expect(summary.items.map(\.ingested) == [50, 50])
        let rows = try sqliteSinkRows(folder.path("catalog.sqlite"))
        #expect(rows.count == 100)
    }

    @Test func progressArrivesAsAnAsyncSequenceAndRunsCanGoInTheBackground() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: ":memory:", logger: quietLogger)
        let job = try await engine.submit(makeSpec(items: ["a", "b"], documents: 100), baseDirectory: folder.url).job
        let events = engine.events()
        let handle = try await engine.start(jobID: job.id)
        var finished = 0
        var pages = 0
        for await event in events {
            switch event {
            case .pageCollected: pages += 1
            case .itemStopped(let item) where item.status == .succeeded: finished += 1
            default: break
            }
            if finished == 2 { break }
        }
        #expect(pages == 4)
        #expect(try await handle.wait().allSucceeded)
        await engine.shutdown()
        await #expect(throws: EngineError.self) { _ = try await engine.start(jobID: job.id) }
    }

    @Test func aJSONLFileCanBeTheSource() async throws {
        let folder = try TemporaryDirectory()
        let input = (0..<25).map { "{\"key\": \"doc-\($0)\", \"value\": \($0)}" }.joined(separator: "\n") + "\n\nnot json\n"
        try FileManager.default.createDirectory(at: folder.url.appendingPathComponent("in"), withIntermediateDirectories: true)
        try Data(input.utf8).write(to: folder.url.appendingPathComponent("in/a.jsonl"))
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let spec = JobSpec(name: "files",
                           collector: ComponentSpec(type: "jsonl", options: ["path": "in/{item}.jsonl", "page_size": 10]),
                           ingester: ComponentSpec(type: "jsonl", options: ["path": "out/{item}.jsonl"]),
                           items: [ItemSpec(name: "a")],
                           faults: [FaultSpec(item: "a", phase: .collect, atDocument: 15)])
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        let failed = try #require(try await engine.run(jobID: job.id).items.first)
        #expect(failed.collected == 10)
        _ = try await engine.retry([failed.id], mode: .recover)
        let item = try #require(try await engine.run(jobID: job.id).items.first)
        #expect(item.status == .succeeded && item.collectedTotal == 26)
        let lines = try String(contentsOfFile: folder.path("out/a.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 26)
        #expect(lines.last?.contains("\"data\":\"not json\"") == true)  // a non-JSON line travels as a string
        #expect(lines.first?.contains("\"key\":\"doc-0\"") == true)
        engine.close()
    }
}
