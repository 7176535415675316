import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JobEngine
import Testing

@testable import JobEngine
@testable import JobEngineHTTP

/// Issue 15 over HTTP: retry by filter, capped answer lists, the Idempotency-Key header, and the
/// failed items by kind in /metrics.
@Suite("PUT /api/pipelines/work-items/retry with a filter or an Idempotency-Key")
struct RetryFilterRouteTests {
    static let retry = "/api/pipelines/work-items/retry"

    /// Sets items' columns directly, as a worker would have left them.
    static func update(_ fixture: Fixture, _ sql: String) throws {
        let db = try Connection(path: fixture.storePath)
        defer { db.close() }
        _ = try db.execute(sql)
    }

    @Test("a filter retries what it matches, dry run first, and a second identical filter starts nothing")
    func filterRetriesWhatItMatches() async throws {
        let fixture = try await Fixture(items: 6, failing: [0, 1, 2, 3])
        try Self.update(fixture, "UPDATE work_items SET last_error = 'HTTP 503 from vendor' WHERE name IN ('item-0', 'item-2')")
        let filter = #"{"filter": {"job_id": "\#(fixture.jobID.uuidString.lowercased())", "error_contains": "http 503", "phase": "ingest", "status": ["failed"]}}"#
        try await fixture.app(withWorker: false).test(.router) { client in
            let preview = try await client.call(.put, Self.retry + "?type=recover&dry_run=true", json: filter)
            #expect(preview.status == .ok, "\(preview.text)")
            #expect(try preview.object["total"] as? Int == 2 && preview.object["dry_run"] as? Bool == true)
            #expect(try await fixture.items(.failed).count == 4, "a dry run changes nothing")

            // The list shows what the filter bar narrows to.
            let listed = try await client.call(.get, "/api/pipelines/jobs/\(fixture.jobID.uuidString.lowercased())/work-items?status=failed&error_kind=transient&error_contains=HTTP%20503")
            let shown = try #require(try listed.object["work_items"] as? [[String: Any]]).compactMap { $0["name"] as? String }
            #expect(shown == ["item-0", "item-2"])

            let started = try await client.call(.put, Self.retry + "?type=recover", json: filter)
            #expect(try started.object["total"] as? Int == 2)
            let ids = try #require(try started.object["started"] as? [String])
            let names = try await fixture.items().filter { ids.contains($0.id.uuidString.lowercased()) }.map(\.name).sorted()
            #expect(names == ["item-0", "item-2"])
            #expect(try started.object["skipped_total"] as? Int == 0)
            let again = try await client.call(.put, Self.retry + "?type=recover", json: filter)
            #expect(try again.object["total"] as? Int == 0)

            // Without a job, every job's failed items of the kind.
            let rest = try await client.call(.put, Self.retry + "?type=restart", json: #"{"filter": {"error_kind": "transient"}}"#)
            #expect(try rest.object["total"] as? Int == 2)
        }
    }

    @Test("the answer lists at most 1,000 started and skipped ids, and counts every skipped one")
    func answerListsAreCapped() async throws {
        let fixture = try await Fixture(items: 1, failing: [])
        // 1,203 failed items whose parameters changed (recover refuses them), 2 that recover runs.
        let job = try #require(try await fixture.engine.job(fixture.jobID.uuidString))
        var spec = job.spec
        spec.name = "big"
        spec.items = (0..<1_205).map { ItemSpec(name: "b\($0)") }
        let big = try await fixture.engine.submit(spec, baseDirectory: fixture.folder).job
        try Self.update(fixture, """
            UPDATE work_items SET status = 'failed', error_kind = 'transient', last_error = 'down',
            checkpoint_fingerprint = CASE WHEN name IN ('b0', 'b1') THEN params_fingerprint ELSE 'older parameters' END
            WHERE job_id = '\(big.id.uuidString.lowercased())'
            """)
        try await fixture.app(withWorker: false).test(.router) { client in
            let response = try await client.call(.put, Self.retry + "?type=recover",
                                                 json: #"{"filter": {"job_id": "\#(big.id.uuidString.lowercased())"}}"#)
            #expect(try response.object["total"] as? Int == 2)
            #expect(try response.object["skipped_total"] as? Int == 1_203)
            let skipped = try #require(try response.object["skipped"] as? [[String: Any]])
            #expect(skipped.count == 1_000)
            #expect(skipped.first?["code"] as? String == "parameters_changed")
        }
    }

    @Test("the same call with the same Idempotency-Key gets the first answer and starts nothing, even when the item failed again")
    func idempotencyKeyReplaysTheFirstAnswer() async throws {
        let fixture = try await Fixture()
        let failed = try #require(try await fixture.items(.failed).first)
        let listed = retryBody([failed.id])
        try await fixture.app(withWorker: false).test(.router) { client in
            func send(_ key: String?, _ json: String? = nil, type: String = "recover") async throws -> TestResponse {
                var headers: HTTPFields = [.contentType: "application/json", HTTPField.Name("apikey")!: apiKey]
                if let key { headers[IdempotencyKey.header] = key }
                return try await client.execute(uri: Self.retry + "?type=\(type)", method: .put, headers: headers,
                                                body: ByteBuffer(string: json ?? listed))
            }
            let first = try await send("key-1")
            #expect(first.status == .ok && first.headers[IdempotencyKey.replayedHeader] == nil)
            #expect(try first.object["total"] as? Int == 1)
            // The item ran and failed again before the client, which never heard the answer, sends again.
            try Self.update(fixture, "UPDATE work_items SET status = 'failed' WHERE id = '\(failed.id.uuidString.lowercased())'")
            let again = try await send("key-1", #"{ "work_item_ids" : ["\#(failed.id.uuidString.lowercased())"] }"#)
            #expect(again.status == .ok && again.headers[IdempotencyKey.replayedHeader] == "true")
            #expect(again.text == first.text)
            #expect(try await fixture.engine.item(failed.id)?.status == .failed, "nothing started the second time")
            #expect(try await fixture.engine.item(failed.id)?.attempt == 2)

            let otherCall = try await send("key-1", type: "restart")
            #expect(try otherCall.status == .conflict && otherCall.errorCode == "idempotency_key_reused")
            let badKey = try await send("a key with spaces")
            #expect(try badKey.status == .badRequest && badKey.errorCode == "invalid_idempotency_key")
            // Without a key the same call runs: it is a new retry.
            #expect(try await send(nil).object["total"] as? Int == 1)

            // A day later the key is forgotten: the same key runs again.
            try Self.update(fixture, "UPDATE idempotency_keys SET created_at = created_at - 90000")
            try Self.update(fixture, "UPDATE work_items SET status = 'failed' WHERE id = '\(failed.id.uuidString.lowercased())'")
            let nextDay = try await send("key-1")
            #expect(try nextDay.headers[IdempotencyKey.replayedHeader] == nil && nextDay.object["total"] as? Int == 1)
        }
    }

    @Test("two identical calls with one Idempotency-Key at once start the retry once")
    func concurrentCallsWithOneKeyStartOnce() async throws {
        let fixture = try await Fixture(items: 40, failing: Set(0..<40))
        let failed = try await fixture.items(.failed)
        #expect(failed.count == 40)
        let body = #"{"filter": {"job_id": "\#(fixture.jobID.uuidString.lowercased())"}}"#
        try await fixture.app(withWorker: false).test(.live) { client in
            func send() async throws -> TestResponse {
                try await client.execute(uri: Self.retry + "?type=recover", method: .put,
                                         headers: [.contentType: "application/json", HTTPField.Name("apikey")!: apiKey,
                                                   IdempotencyKey.header: "same-key"],
                                         body: ByteBuffer(string: body))
            }
            async let a = send()
            async let b = send()
            let answers = try await [a, b]
            let ran = answers.filter { $0.status == .ok && $0.headers[IdempotencyKey.replayedHeader] == nil }
            #expect(ran.count == 1, "\(answers.map(\.text))")
            #expect(try ran.first?.object["total"] as? Int == 40)
            for other in answers where other.status != .ok || other.headers[IdempotencyKey.replayedHeader] != nil {
                if other.status == .ok {
                    #expect(other.text == ran.first?.text)
                } else {
                    #expect(try other.status == .conflict && other.errorCode == "idempotency_key_in_progress")
                }
            }
        }
        var retries = 0
        for item in failed {
            retries += try await fixture.engine.history(itemID: item.id).filter { $0.from == .failed && $0.to == .pending }.count
        }
        #expect(retries == 40, "each item retried once")
    }

    @Test("metrics count failed items by error kind, poison items under crash_loop")
    func metricsCountFailedItemsByKind() async throws {
        let fixture = try await Fixture(items: 4, failing: [0, 1, 2])
        try Self.update(fixture, "UPDATE work_items SET error_kind = 'crash_loop' WHERE name = 'item-0'")
        try await fixture.app(withWorker: false).test(.router) { client in
            let text = try await client.call(.get, "/metrics", key: nil).text
            #expect(text.contains(#"jobengine_failed_items{error_kind="crash_loop"} 1"#), "\(text)")
            #expect(text.contains(#"jobengine_failed_items{error_kind="transient"} 2"#))
            #expect(text.contains(#"jobengine_failed_items{error_kind="interrupted"} 0"#))
        }
    }
}
