import Foundation
import Testing

/// Invariant 2, deterministically: the process is held (a stall fault) after a batch reached the
/// sink and before its checkpoint, killed with SIGKILL there, and resumed. The kill provably landed
/// with the sink ahead of its checkpoint, and the sink still ends with each document once.
@Suite(.serialized) struct SinkAheadKillTests {
    @Test(arguments: ["jsonl", "sqlite"])
    func aKillBetweenTheSinkWriteAndItsCheckpointDoublesNothing(sink: String) async throws {
        let folder = try Folder()
        let spec = OperatorPathCLITests.spec(name: "ahead", items: ["a", "b"], documents: 200, concurrency: 2, sink: sink,
                                             extra: #", "faults": [{"item": "a", "phase": "ingest", "at_document": 100, "stall_ms": 60000}]"#)
        try folder.write("spec.json", spec)
        let run = try CLI.start(["run", "spec.json", "--quiet"], in: folder.url)
        let store = folder.path("engine.sqlite")
        func delivered() -> Int {
            if sink == "jsonl" {
                return ((try? String(contentsOfFile: folder.path("out/a.jsonl"), encoding: .utf8)) ?? "").split(separator: "\n").count
            }
            return Int((try? sqlite(folder.path("sink.sqlite"), "SELECT COUNT(*) AS n FROM documents WHERE item = 'a'").first?["n"]) ?? "0") ?? 0
        }
        func checkpointed() -> Int {
            Int((try? sqlite(store, "SELECT ingested FROM work_items WHERE name = 'a'").first?["ingested"]) ?? "0") ?? 0
        }
        // The batch 100…119 is in the sink; its checkpoint (ingested 120) is held back by the stall.
        #expect(await waitFor(seconds: 60) { delivered() >= 120 && checkpointed() == 100 })
        run.kill(SIGKILL)
        #expect(await run.wait(seconds: 10))
        #expect(delivered() == 120 && checkpointed() == 100, "the kill did not land with the sink ahead")

        let resumed = try await CLI.run(["resume", "--quiet"], in: folder.url)
        #expect(resumed.code == 0, "\(resumed.stdout)\n\(resumed.stderr)")
        for item in try await itemsJSON(folder) {
            let name = try #require(item["name"] as? String)
            #expect(item["status"] as? String == "succeeded")
            #expect(item["collected_total"] as? Int == 200)
            if sink == "jsonl" {
                #expect(try jsonlSeqs(folder.path("out/\(name).jsonl")) == Array(0..<200), "\(name)")
            } else {
                let rows = try sqlite(folder.path("sink.sqlite"), "SELECT seq FROM documents WHERE item = '\(name)' ORDER BY seq")
                #expect(rows.compactMap { $0["seq"].flatMap { Int($0) } } == Array(0..<200), "\(name)")
            }
        }
    }
}
