import Foundation
import JobEngineTestSupport
import Testing

/// Issue 12 through the CLI: `retry --failed --job` prints the total of a bulk retry, and `items`
/// streams a job's items page by page (JSON stays one valid array, the table has one header).
@Suite(.limit(minutes: 3)) struct ScaleCommandTests {
    @Test func bulkRetryAndStreamedItems() async throws {
        let folder = try Folder()
        let lines = (0..<2_300).map { #"{"name": "q\#($0)", "params": {"n": \#($0)}}"# }.joined(separator: "\n")
        try folder.write("items.jsonl", lines)
        try folder.write("spec.json", """
            {"name": "crawl", "collector": {"type": "synthetic", "documents": 1, "page_size": 1},
             "ingester": {"type": "jsonl", "path": "out/{item}.jsonl"}, "items_file": "items.jsonl"}
            """)
        let enqueued = try await CLI.run(["run", "spec.json", "--enqueue"], in: folder.url)
        #expect(enqueued.code == 0 && enqueued.stdout.contains("2300 work item(s) queued"), "\(enqueued.stderr)")
        _ = try sqlite(folder.path("engine.sqlite"), "UPDATE work_items SET status = 'failed', error_kind = 'transient' WHERE name != 'q5'")

        let dryRun = try await CLI.run(["retry", "--type", "recover", "--failed", "--job", "crawl", "--dry-run"], in: folder.url)
        #expect(dryRun.code == 0 && dryRun.stdout.hasPrefix(#"{"total": 2299, "dry_run": true}"#), "\(dryRun.stderr)")
        let retried = try await CLI.run(["retry", "--type", "restart", "--failed", "--job", "crawl", "--enqueue"], in: folder.url)
        #expect(retried.code == 0 && retried.stdout.hasPrefix(#"{"total": 2299}"#), "\(retried.stderr)")

        // Issue 15: narrowed by error text, kind, phase and time (positions count from 1: a third of them are 503s).
        _ = try sqlite(folder.path("engine.sqlite"), """
            UPDATE work_items SET status = 'failed', error_kind = 'transient', phase = 'collect',
            last_error = CASE WHEN position % 3 = 0 THEN 'HTTP 503 from the vendor' ELSE 'timed out' END, updated_at = 1000
            """)
        _ = try sqlite(folder.path("engine.sqlite"), "UPDATE work_items SET updated_at = 2000000000, phase = 'ingest' WHERE position < 30")
        let narrowed = try await CLI.run(["retry", "--type", "recover", "--failed", "--error-contains", "http 503", "--error-kind", "transient",
                                          "--phase", "ingest", "--failed-since", "2033-05-18T03:33Z", "--dry-run"], in: folder.url)
        #expect(narrowed.code == 0 && narrowed.stdout.hasPrefix(#"{"total": 9, "dry_run": true}"#), "\(narrowed.stdout)\(narrowed.stderr)")
        let byText = try await CLI.run(["retry", "--type", "restart", "--failed", "--job", "crawl", "--error-contains", "503", "--enqueue"],
                                       in: folder.url)
        #expect(byText.code == 0 && byText.stdout.hasPrefix(#"{"total": 766}"#), "\(byText.stderr)")
        let rest = try await CLI.run(["retry", "--type", "restart", "--failed", "--error-kind", "permanent", "--enqueue"], in: folder.url)
        #expect(rest.code == 0 && rest.stdout.hasPrefix(#"{"total": 0}"#), "\(rest.stderr)")
        _ = try sqlite(folder.path("engine.sqlite"), "UPDATE work_items SET status = 'pending' WHERE status = 'failed'")

        let json = try await CLI.run(["items", "--job", "crawl", "--json"], in: folder.url)
        let array = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(array.count == 2_300 && array.compactMap { $0["name"] as? String } == (0..<2_300).map { "q\($0)" })
        let table = try await CLI.run(["items", "--status", "pending"], in: folder.url)
        let rows = table.stdout.split(separator: "\n")
        #expect(rows.count == 2_301 && rows.filter { $0.hasPrefix("ID ") }.count == 1)
        let none = try await CLI.run(["items", "--json", "--status", "running"], in: folder.url)
        #expect(none.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
    }
}
