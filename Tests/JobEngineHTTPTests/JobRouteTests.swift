import Foundation
import Hummingbird
import HummingbirdTesting
import JobEngine
import Testing

@testable import JobEngineHTTP

@Suite("Jobs and work items over HTTP")
struct JobRouteTests {
    @Test("GET jobs and jobs/{id}: item counts by status, documents, state and spec settings")
    func jobs() async throws {
        let fixture = try await Fixture(items: 3, failing: [1])
        try await fixture.app(withWorker: false).test(.router) { client in
            let list = try await client.call(.get, "/api/pipelines/jobs")
            #expect(list.status == .ok)
            let jobs = try #require(try list.object["jobs"] as? [[String: Any]])
            #expect(jobs.count == 1)
            let job = try #require(jobs.first)
            #expect(job["id"] as? String == fixture.jobID.uuidString.lowercased())
            #expect(job["name"] as? String == "http-job")
            #expect(job["state"] as? String == "needs attention")
            let counts = try #require(job["items"] as? [String: Int])
            #expect(counts == ["pending": 0, "running": 0, "succeeded": 2, "failed": 1, "cancelled": 0])

            let detail = try await client.call(.get, "/api/pipelines/jobs/\(fixture.jobID.uuidString)")
            #expect(detail.status == .ok)
            let object = try detail.object
            #expect(object["collected"] as? Int == 3 * fixture.documents)
            let spec = try #require(object["spec"] as? [String: Any])
            #expect(spec["item_count"] as? Int == 3)
            #expect(spec["items"] == nil)
            #expect((spec["collector"] as? [String: Any])?["type"] as? String == "synthetic")
        }
    }

    @Test("work-items pages by cursor, filters by status, and uses engine-run items --json's field names")
    func workItemPages() async throws {
        let fixture = try await Fixture(items: 5, failing: [1, 3], documents: 20)
        try await fixture.app(withWorker: false).test(.router) { client in
            var names: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let uri = "/api/pipelines/jobs/\(fixture.jobID.uuidString)/work-items?limit=2" + (cursor.map { "&cursor=\($0)" } ?? "")
                let response = try await client.call(.get, uri)
                #expect(response.status == .ok)
                let object = try response.object
                let items = try #require(object["work_items"] as? [[String: Any]])
                #expect(items.count <= 2)
                names += items.compactMap { $0["name"] as? String }
                cursor = object["next_cursor"] as? String
                pages += 1
            } while cursor != nil && pages < 10
            #expect(names == ["item-0", "item-1", "item-2", "item-3", "item-4"])
            #expect(pages == 3)

            let failed = try await client.call(.get, "/api/pipelines/jobs/\(fixture.jobID.uuidString)/work-items?status=failed")
            let failedItems = try #require(try failed.object["work_items"] as? [[String: Any]])
            #expect(failedItems.compactMap { $0["name"] as? String } == ["item-1", "item-3"])
            #expect(failedItems.allSatisfy { $0["status"] as? String == "failed" && ($0["error"] as? String)?.contains("sink timed out") == true })

            // The same keys, with the same values, as `engine-run items --json` prints (WorkItem's encoding).
            let stored = try #require(try await fixture.items(.failed).first)
            let expected = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(stored)) as? [String: Any])
            let served = try #require(failedItems.first)
            #expect(Set(served.keys) == Set(expected.keys))
            #expect(served["id"] as? String == expected["id"] as? String)
            #expect(served["collected_total"] as? Int == expected["collected_total"] as? Int)
        }
    }

    @Test("GET work-items/{id} adds the checkpoint summary and the history")
    func workItemDetail() async throws {
        let fixture = try await Fixture()
        let failed = try #require(try await fixture.items(.failed).first)
        try await fixture.app(withWorker: false).test(.router) { client in
            let response = try await client.call(.get, "/api/pipelines/work-items/\(failed.id.uuidString.lowercased())")
            #expect(response.status == .ok)
            let object = try response.object
            #expect(object["status"] as? String == "failed")
            #expect(object["phase"] as? String == "ingest")
            let checkpoints = try #require(object["checkpoints"] as? [[String: Any]])
            #expect(checkpoints.map { $0["phase"] as? String } == ["collect", "ingest"])
            #expect(checkpoints.first?["documents"] as? Int == fixture.documents)
            #expect((checkpoints.last?["documents"] as? Int ?? 0) < fixture.documents)
            let events = try #require(object["events"] as? [[String: Any]])
            #expect(events.map { $0["to"] as? String } == ["pending", "running", "failed"])
        }
    }

    @Test("PATCH jobs/{id}/state/cancelled cancels pending items, and the job reads cancelled")
    func cancel() async throws {
        let fixture = try await Fixture(items: 2, failing: [0, 1])
        let failed = try await fixture.items(.failed)
        // Queue both, with no worker to run them, so they are pending when the cancel arrives.
        _ = try await fixture.engine.retry(failed.map(\.id), mode: .recover)
        try await fixture.app(withWorker: false).test(.router) { client in
            let response = try await client.call(.patch, "/api/pipelines/jobs/\(fixture.jobID.uuidString)/state/cancelled")
            #expect(response.status == .ok)
            let object = try response.object
            #expect(object["state"] as? String == "cancelled")
            #expect(object["cancelled_pending"] as? Int == 2)
            #expect((object["items"] as? [String: Int])?["cancelled"] == 2)
        }
        #expect(try await fixture.items().allSatisfy { $0.status == .cancelled })
    }

    @Test("a running item stops at its next checkpoint when its job is cancelled over HTTP")
    func cancelStopsRunningItems() async throws {
        let fixture = try await Fixture(items: 1, failing: [0], documents: 200_000, pageSize: 50)
        let item = try #require(try await fixture.items(.failed).first)
        try await fixture.app().test(.router) { client in
            let retry = try await client.call(.put, "/api/pipelines/work-items/retry?type=restart", json: retryBody([item.id]))
            #expect(try retry.object["total"] as? Int == 1)
            _ = try await fixture.waitForItem(item.id) { $0.status == .running && $0.collected > 0 }
            let cancel = try await client.call(.patch, "/api/pipelines/jobs/\(fixture.jobID.uuidString)/state/cancelled")
            #expect(cancel.status == .ok)
            let stopped = try await fixture.waitForItem(item.id) { $0.status == .cancelled }
            #expect(stopped.status == .cancelled)
            // Before the end of its ingest: on a slow (sanitized, loaded) run, collection may be done
            // by the time the cancel lands.
            #expect(stopped.ingested < fixture.documents, "it stopped before the end")
        }
    }

    @Test("healthz answers without a key; metrics shows items, documents, checkpoints, retries and requests")
    func healthAndMetrics() async throws {
        let fixture = try await Fixture()
        let failed = try #require(try await fixture.items(.failed).first)
        try await fixture.app().test(.router) { client in
            let health = try await client.call(.get, "/healthz", key: nil)
            #expect(health.status == .ok)
            #expect(try health.object["status"] as? String == "ok")

            _ = try await client.call(.put, "/api/pipelines/work-items/retry?type=recover", json: retryBody([failed.id]))
            _ = try await fixture.waitForItem(failed.id) { $0.status == .succeeded }
            _ = try await client.call(.get, "/api/pipelines/nothing-here")

            let metrics = try await client.call(.get, "/metrics", key: nil)
            #expect(metrics.status == .ok)
            #expect(metrics.headers[.contentType]?.hasPrefix("text/plain") == true)
            let text = metrics.text
            for expected in [
                #"jobengine_work_items{status="succeeded"} 3"#,
                #"jobengine_work_items{status="failed"} 0"#,
                "jobengine_documents_collected_total ",
                "jobengine_documents_ingested_total ",
                #"jobengine_checkpoint_commits_total{phase="collect"}"#,
                #"jobengine_checkpoint_commits_total{phase="ingest"}"#,
                #"jobengine_checkpoint_commit_duration_seconds_bucket{phase="ingest",le="0.001"}"#,
                #"jobengine_retries_total{mode="recover",origin="manual"}"#,
                #"http_requests_total{route="/api/pipelines/work-items/retry",method="PUT",status="200"}"#,
                #"http_requests_total{route="NotFound",method="GET",status="404"}"#,
            ] {
                #expect(text.contains(expected), "metrics lack \(expected)")
            }
            // Errors are counted by the status the client got (other tests add their own 404s).
            let errors = text.split(separator: "\n").first { $0.hasPrefix(#"http_request_errors_total{route="NotFound",method="GET",status="404"}"#) }
            #expect((errors?.split(separator: " ").last).flatMap { Int($0) } ?? 0 >= 1)
        }
    }
}
