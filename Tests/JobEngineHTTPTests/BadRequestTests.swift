import Foundation
import Hummingbird
import HummingbirdTesting
import JobEngine
import Testing

@testable import JobEngineHTTP

/// Every documented error status, each with the JSON error shape, and nothing changed by any of them.
@Suite("Bad requests get a clear JSON error and change nothing")
struct BadRequestTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let method: HTTPRequest.Method
        let uri: String
        var key: String? = apiKey
        var json: String?
        var contentType = "application/json"
        let status: HTTPResponse.Status
        let code: String
        var messageMentions: String?

        var testDescription: String { name }
    }

    static let someID = "3f2b6c1e-8a4d-4e7f-9b0a-1c2d3e4f5a6b"
    static let retry = "/api/pipelines/work-items/retry"

    static let cases: [Case] = [
        Case(name: "type missing", method: .put, uri: retry, json: #"{"work_item_ids": ["\#(someID)"]}"#,
             status: .badRequest, code: "missing_parameter", messageMentions: "restart or recover"),
        Case(name: "type invalid", method: .put, uri: retry + "?type=resume", json: #"{"work_item_ids": ["\#(someID)"]}"#,
             status: .badRequest, code: "invalid_parameter", messageMentions: "restart, recover"),
        Case(name: "dry_run invalid", method: .put, uri: retry + "?type=recover&dry_run=maybe", json: #"{"work_item_ids": []}"#,
             status: .badRequest, code: "invalid_parameter", messageMentions: "true or false"),
        Case(name: "invalid JSON", method: .put, uri: retry + "?type=recover", json: #"{"work_item_ids": ["#,
             status: .badRequest, code: "invalid_json"),
        Case(name: "body not an object", method: .put, uri: retry + "?type=recover", json: #"["\#(someID)"]"#,
             status: .badRequest, code: "invalid_body", messageMentions: "work_item_ids"),
        Case(name: "work_item_ids missing", method: .put, uri: retry + "?type=recover", json: #"{"ids": ["\#(someID)"]}"#,
             status: .badRequest, code: "invalid_body", messageMentions: "ids"),
        Case(name: "work_item_ids not an array", method: .put, uri: retry + "?type=recover", json: #"{"work_item_ids": "\#(someID)"}"#,
             status: .badRequest, code: "invalid_body", messageMentions: "array"),
        Case(name: "unknown field", method: .put, uri: retry + "?type=recover",
             json: #"{"work_item_ids": ["\#(someID)"], "force": true}"#, status: .badRequest, code: "invalid_body",
             messageMentions: "force"),
        Case(name: "empty id list", method: .put, uri: retry + "?type=recover", json: #"{"work_item_ids": []}"#,
             status: .badRequest, code: "invalid_body", messageMentions: "empty"),
        Case(name: "over-long id list", method: .put, uri: retry + "?type=recover",
             json: #"{"work_item_ids": [\#(Array(repeating: "\"\(someID)\"", count: 6).joined(separator: ","))]}"#,
             status: .badRequest, code: "too_many_ids", messageMentions: "at most 5"),
        Case(name: "malformed id", method: .put, uri: retry + "?type=recover", json: #"{"work_item_ids": ["\#(someID)", "item-1"]}"#,
             status: .badRequest, code: "invalid_id", messageMentions: "work_item_ids[1]"),
        Case(name: "id not a string", method: .put, uri: retry + "?type=recover", json: #"{"work_item_ids": [42]}"#,
             status: .badRequest, code: "invalid_id", messageMentions: "work_item_ids[0]"),
        Case(name: "apikey missing", method: .put, uri: retry + "?type=recover", key: nil, json: #"{"work_item_ids": ["\#(someID)"]}"#,
             status: .unauthorized, code: "missing_api_key"),
        Case(name: "apikey wrong", method: .put, uri: retry + "?type=recover", key: "test-key-0123456788",
             json: #"{"work_item_ids": ["\#(someID)"]}"#, status: .unauthorized, code: "invalid_api_key"),
        Case(name: "apikey wrong on a GET", method: .get, uri: "/api/pipelines/jobs", key: "nope",
             status: .unauthorized, code: "invalid_api_key"),
        Case(name: "ids and a filter", method: .put, uri: retry + "?type=recover",
             json: #"{"work_item_ids": ["\#(someID)"], "filter": {}}"#, status: .badRequest, code: "invalid_body", messageMentions: "not both"),
        Case(name: "filter not an object", method: .put, uri: retry + "?type=recover", json: #"{"filter": "failed"}"#,
             status: .badRequest, code: "invalid_filter", messageMentions: "object"),
        Case(name: "unknown filter field", method: .put, uri: retry + "?type=recover", json: #"{"filter": {"kind": "transient"}}"#,
             status: .badRequest, code: "invalid_filter", messageMentions: "filter.kind"),
        Case(name: "filter status not retryable", method: .put, uri: retry + "?type=recover",
             json: #"{"filter": {"status": ["failed", "running"]}}"#, status: .badRequest, code: "invalid_filter",
             messageMentions: "filter.status[1]"),
        Case(name: "filter status empty", method: .put, uri: retry + "?type=recover", json: #"{"filter": {"status": []}}"#,
             status: .badRequest, code: "invalid_filter", messageMentions: "non-empty"),
        Case(name: "filter error_kind unknown", method: .put, uri: retry + "?type=recover", json: #"{"filter": {"error_kind": "flaky"}}"#,
             status: .badRequest, code: "invalid_filter", messageMentions: "crash_loop"),
        Case(name: "filter phase done", method: .put, uri: retry + "?type=recover", json: #"{"filter": {"phase": "done"}}"#,
             status: .badRequest, code: "invalid_filter", messageMentions: "collect or ingest"),
        Case(name: "filter failed_since not a time", method: .put, uri: retry + "?type=recover",
             json: #"{"filter": {"failed_since": "yesterday"}}"#, status: .badRequest, code: "invalid_filter", messageMentions: "2026-12-01T10:00Z"),
        Case(name: "filter failed_since an age too large for a date", method: .put, uri: retry + "?type=recover",
             json: #"{"filter": {"failed_since": "200000000000000d"}}"#, status: .badRequest, code: "invalid_filter",
             messageMentions: "failed_since"),
        Case(name: "filter error_contains not a string", method: .put, uri: retry + "?type=recover",
             json: #"{"filter": {"error_contains": 503}}"#, status: .badRequest, code: "invalid_filter", messageMentions: "string"),
        Case(name: "filter job_id malformed", method: .put, uri: retry + "?type=recover", json: #"{"filter": {"job_id": "http-job"}}"#,
             status: .badRequest, code: "invalid_filter", messageMentions: "UUID"),
        Case(name: "filter job_id unknown", method: .put, uri: retry + "?type=recover", json: #"{"filter": {"job_id": "\#(someID)"}}"#,
             status: .notFound, code: "not_found", messageMentions: "filter.job_id"),
        Case(name: "unknown route", method: .get, uri: "/api/pipelines/workitems", status: .notFound, code: "not_found"),
        Case(name: "unknown job", method: .get, uri: "/api/pipelines/jobs/\(someID)", status: .notFound, code: "not_found"),
        Case(name: "unknown job's items", method: .get, uri: "/api/pipelines/jobs/\(someID)/work-items",
             status: .notFound, code: "not_found"),
        Case(name: "unknown work item", method: .get, uri: "/api/pipelines/work-items/\(someID)", status: .notFound, code: "not_found"),
        Case(name: "cancel unknown job", method: .patch, uri: "/api/pipelines/jobs/\(someID)/state/cancelled",
             status: .notFound, code: "not_found"),
        Case(name: "malformed job id", method: .get, uri: "/api/pipelines/jobs/not-a-uuid", status: .badRequest, code: "invalid_id"),
        Case(name: "malformed item id", method: .get, uri: "/api/pipelines/work-items/42", status: .badRequest, code: "invalid_id"),
        Case(name: "invalid status filter", method: .get, uri: "/api/pipelines/jobs/\(someID)/work-items?status=broken",
             status: .badRequest, code: "invalid_parameter", messageMentions: "failed"),
        Case(name: "limit out of range", method: .get, uri: "/api/pipelines/jobs/\(someID)/work-items?limit=0",
             status: .badRequest, code: "invalid_parameter", messageMentions: "1 to 1000"),
        Case(name: "cursor not ours", method: .get, uri: "/api/pipelines/jobs/\(someID)/work-items?cursor=zzz",
             status: .badRequest, code: "invalid_cursor"),
        Case(name: "GET on retry", method: .get, uri: retry + "?type=recover", status: .methodNotAllowed, code: "method_not_allowed",
             messageMentions: "PUT"),
        Case(name: "POST on retry", method: .post, uri: retry + "?type=recover", json: #"{"work_item_ids": ["\#(someID)"]}"#,
             status: .methodNotAllowed, code: "method_not_allowed"),
        Case(name: "DELETE on a job", method: .delete, uri: "/api/pipelines/jobs/\(someID)", status: .methodNotAllowed,
             code: "method_not_allowed"),
        Case(name: "GET on cancel", method: .get, uri: "/api/pipelines/jobs/\(someID)/state/cancelled", status: .methodNotAllowed,
             code: "method_not_allowed", messageMentions: "PATCH"),
        Case(name: "POST on healthz", method: .post, uri: "/healthz", key: nil, status: .methodNotAllowed, code: "method_not_allowed"),
        Case(name: "body over the limit", method: .put, uri: retry + "?type=recover",
             json: #"{"work_item_ids": ["\#(someID)"], "padding": "\#(String(repeating: "x", count: 5000))"}"#,
             status: .contentTooLarge, code: "body_too_large", messageMentions: "4096"),
        Case(name: "text body", method: .put, uri: retry + "?type=recover", json: "\(someID)", contentType: "text/plain",
             status: .unsupportedMediaType, code: "unsupported_media_type", messageMentions: "application/json"),
        Case(name: "form body", method: .put, uri: retry + "?type=recover", json: "work_item_ids=\(someID)",
             contentType: "application/x-www-form-urlencoded", status: .unsupportedMediaType, code: "unsupported_media_type"),
    ]

    @Test(arguments: cases)
    func badRequest(_ badCase: Case) async throws {
        let fixture = try await Fixture()
        let before = try await snapshot(fixture)
        try await fixture.app(maxRetryIDs: 5, maxBodyBytes: 4096, withWorker: false).test(.router) { client in
            let response = try await client.call(badCase.method, badCase.uri, key: badCase.key, json: badCase.json,
                                                 contentType: badCase.contentType)
            #expect(response.status == badCase.status, "\(response.text)")
            #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
            #expect(try response.errorCode == badCase.code, "\(response.text)")
            if let mention = badCase.messageMentions {
                let message = try #require(try response.object["error"] as? [String: Any])["message"] as? String
                #expect(message?.contains(mention) == true, "message '\(message ?? "")' should mention '\(mention)'")
            }
            if badCase.status == .methodNotAllowed {
                #expect(response.headers[.allow]?.isEmpty == false)
            }
        }
        #expect(try await snapshot(fixture) == before, "a bad request changed the store")
    }

    /// Every item's status and attempt and the event count: what a retry or cancel would change.
    private func snapshot(_ fixture: Fixture) async throws -> [String] {
        var lines: [String] = []
        for item in try await fixture.items() {
            lines.append("\(item.name) \(item.status.rawValue) \(item.attempt) \(try await fixture.engine.history(itemID: item.id).count)")
        }
        let job = try #require(try await fixture.engine.job(fixture.jobID.uuidString))
        lines.append("cancelled \(job.cancelled)")
        return lines
    }

    @Test("a retry of a real failed item with a bad body still changes nothing, and the same call done right works")
    func badThenGood() async throws {
        let fixture = try await Fixture()
        let failed = try #require(try await fixture.items(.failed).first)
        try await fixture.app(withWorker: false).test(.router) { client in
            let bad = try await client.call(.put, "/api/pipelines/work-items/retry?type=recover",
                                            json: #"{"work_item_ids": ["\#(failed.id.uuidString)", "x"]}"#)
            #expect(bad.status == .badRequest)
            #expect(try await fixture.engine.item(failed.id)?.status == .failed)
            let good = try await client.call(.put, "/api/pipelines/work-items/retry?type=recover", json: retryBody([failed.id]))
            #expect(try good.object["total"] as? Int == 1)
        }
    }
}
