import Foundation
import JobEngineTestSupport
import Testing

/// Issue 15 with real processes: an item whose worker dies every time it runs it (here: the
/// process is SIGKILLed while the item is held at its first page) is recovered by `resume`
/// `retry.max_recoveries` times, then ends `failed` with kind `crash_loop` instead of taking every
/// later worker down with it; an operator's retry still runs it.
@Suite(.serialized, .limit(minutes: 3)) struct PoisonItemCLITests {
    @Test func aWorkerKilledByTheSameItemEveryTimeStopsRecoveringItAtTheCap() async throws {
        let folder = try Folder()
        let spec = OperatorPathCLITests.spec(name: "poison", items: ["good", "poison"], documents: 40, extra: """
            , "retry": {"max_recoveries": 2},
             "faults": [{"item": "poison", "phase": "collect", "at_document": 0, "stall_ms": 60000, "times": 1000}]
            """)
        try folder.write("spec.json", spec)
        let store = folder.path("engine.sqlite")
        func good() -> String {
            (try? sqlite(store, "SELECT status FROM work_items WHERE name = 'good'").first?["status"]).flatMap { $0 } ?? ""
        }
        func poison() -> (status: String, attempt: Int, kind: String) {
            let row = (try? sqlite(store, "SELECT status, attempt, error_kind FROM work_items WHERE name = 'poison'").first) ?? [:]
            return (row["status"] ?? "", Int(row["attempt"] ?? "0") ?? 0, row["error_kind"] ?? "")
        }
        // The run, then two resumes: each recovers the item and dies on it.
        for round in 1...3 {
            let process = try CLI.start(round == 1 ? ["run", "spec.json", "--quiet"] : ["resume", "--quiet"], in: folder.url)
            // The good item finishes in the first run (a kill before that would interrupt it too).
            #expect(await waitFor(seconds: 60) { poison().status == "running" && poison().attempt == round && good() == "succeeded" },
                    "round \(round): \(poison()), good \(good())")
            process.kill(SIGKILL)
            #expect(await process.wait(seconds: 10))
        }
        // The next worker finds it dead a third time in a row: over the cap, not recovered.
        let last = try await CLI.run(["resume", "--quiet"], in: folder.url, timeout: 60)
        #expect(poison() == ("failed", 3, "crash_loop"), "\(last.stdout)\n\(last.stderr)")
        let items = try await itemsJSON(folder)
        let poisoned = try #require(items.first { $0["name"] as? String == "poison" })
        #expect((poisoned["error"] as? String)?.contains("more than retry.max_recoveries = 2") == true, "\(poisoned)")
        #expect(items.first { $0["name"] as? String == "good" }?["status"] as? String == "succeeded")
        let events = try sqlite(store, """
            SELECT e.error_kind FROM events e JOIN work_items w ON w.id = e.item_id
            WHERE w.name = 'poison' AND e.to_status = 'failed' ORDER BY e.id
            """).map { $0["error_kind"] ?? "" }
        #expect(events == ["interrupted", "interrupted", "crash_loop"])

        // Running the spec again (a cron) does not launch it again: only an explicit retry does.
        let rerun = try await CLI.run(["run", "spec.json", "--quiet"], in: folder.url, timeout: 60)
        #expect(poison() == ("failed", 3, "crash_loop"), "\(rerun.stdout)\n\(rerun.stderr)")

        // A retry of every failed item calls the poison item out, in the dry run and in the retry.
        let preview = try await CLI.run(["retry", "--type", "recover", "--failed", "--dry-run"], in: folder.url)
        #expect(preview.code == 0 && preview.stdout.contains("[crash loop: its worker died running it again and again]"),
                "\(preview.stdout)\n\(preview.stderr)")
        #expect(preview.stderr.contains("note: 1 of the items retried would be in a crash loop"), "\(preview.stderr)")
        // The operator finds it by kind and retries it by hand.
        let byKind = try await CLI.run(["retry", "--type", "recover", "--failed", "--error-kind", "crash_loop", "--dry-run"], in: folder.url)
        #expect(byKind.code == 0 && byKind.stdout.hasPrefix(#"{"total": 1, "dry_run": true}"#), "\(byKind.stdout)\n\(byKind.stderr)")
        let retried = try await CLI.run(["retry", "--type", "recover", "--failed", "--error-kind", "crash_loop", "--enqueue"], in: folder.url)
        #expect(retried.stderr.contains("note: 1 of the items retried was in a crash loop"), "\(retried.stderr)")
        #expect(retried.code == 0 && retried.stdout.hasPrefix(#"{"total": 1}"#), "\(retried.stdout)\n\(retried.stderr)")
        #expect(poison().status == "pending" && poison().attempt == 4)
    }
}
