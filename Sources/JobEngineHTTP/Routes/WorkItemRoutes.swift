import Foundation
import HTTPTypes
import Hummingbird
import JobEngine

/// `/api/pipelines/work-items`: retry items, read one with its checkpoints and history.
struct WorkItemRoutes<Context: RequestContext>: Sendable {
    let engine: Engine
    let worker: Worker?
    let configuration: APIConfiguration

    func register<Methods: RouterMethods<Context>>(on api: Endpoints<Methods>) {
        api.add("work-items/retry", [.put: retry])
        api.add("work-items/:id", [.get: item])
    }

    /// `PUT work-items/retry?type=restart|recover[&dry_run=true]` with `{"work_item_ids": […]}` or
    /// `{"filter": {…}}` → `{"total": N, ...}`.
    @Sendable func retry(_ request: Request, context: Context) async throws -> Response {
        guard let mode = try request.enumQuery("type", as: RetryMode.self) else {
            throw APIError.badRequest("missing_parameter", "query parameter type is required: restart or recover")
        }
        let dryRun = try request.boolQuery("dry_run")
        let body = try RetryRequest(try await JSONBody.read(request, limit: configuration.maxBodyBytes),
                                    maxIDs: configuration.maxRetryIDs)
        if case .filter(let filter) = body.target, let jobID = filter.jobID, try await engine.job(jobID.uuidString) == nil {
            throw APIError.notFound("no job has the id \(jobID.uuidString.lowercased()) (filter.job_id)")
        }
        // Checked on a dry run too; but a dry run starts nothing, so it is answered afresh, never recorded.
        let idempotencyKey = try IdempotencyKey.of(request)
        if dryRun {
            let preview = switch body.target {
            case .ids(let ids): try await engine.retryPreview(ids, mode: mode)
            case .filter(let filter): try await engine.retryMatching(filter, mode: mode, dryRun: true)
            }
            return try JSONBody.response(RetryResponse(preview, dryRun: true), for: request, context: context)
        }
        let start = { @Sendable [engine, worker] () async throws -> RetryResponse in
            let result = switch body.target {
            case .ids(let ids): try await engine.retry(ids, mode: mode)
            case .filter(let filter): try await engine.retryMatching(filter, mode: mode)
            }
            if result.total > 0 { worker?.nudge() }
            context.logger.info("retry started", metadata: ["mode": "\(mode.rawValue)", "total": "\(result.total)",
                                                            "skipped": "\(result.skipped.count)"])
            return RetryResponse(result, dryRun: false)
        }
        guard let key = idempotencyKey else {
            return try JSONBody.response(try await start(), for: request, context: context)
        }
        // The same call is the same mode and the same body (as canonical JSON: key order and spacing
        // do not make another call).
        let call = Data("retry \(mode.rawValue)\n".utf8) + body.json.canonicalJSON()
        let encoder = APIRequestContext.jsonEncoder
        let answer: (status: Int, body: String, replayed: Bool)
        do {
            answer = try await engine.idempotent(key: key, request: call, failureAnswer: { error in
                // A listed retry is one transaction, and a filter's first step too: when it failed,
                // nothing started, and the same call may run again. A filter that stopped part-way
                // keeps its answer (sending the call again gives it instead of running it twice).
                guard let stopped = error as? BulkRetryStopped else { return nil }
                let answer = APIError(.internalServerError, code: "retry_stopped",
                                      "\(stopped); those stay started. Send the filter again with a new Idempotency-Key to retry what is left")
                return (Int(answer.status.code), answer.jsonBody)
            }) {
                (200, String(decoding: try encoder.encode(try await start()), as: UTF8.self))
            }
        } catch IdempotencyConflict.inProgress {
            throw APIError(.conflict, code: "idempotency_key_in_progress",
                           "a retry with this Idempotency-Key is still running: send it again in a moment to get its answer")
        } catch IdempotencyConflict.otherRequest {
            // 409, not the draft's 422: the request itself is valid; it conflicts with the key's earlier use.
            throw APIError(.conflict, code: "idempotency_key_reused",
                           "this Idempotency-Key was used for a different retry (another type or body) in the last 24 hours: use a new key")
        }
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if answer.replayed { headers[IdempotencyKey.replayedHeader] = "true" }
        return Response(status: HTTPResponse.Status(code: answer.status), headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(string: answer.body)))
    }

    /// `GET work-items/{id}`: the item as `engine-run items --json` prints it, plus `checkpoints` and `events`.
    @Sendable func item(_ request: Request, context: Context) async throws -> Response {
        let id = try context.uuidParameter("id", describing: "work item")
        guard let item = try await engine.item(id) else { throw APIError.notFound("no work item has the id \(id.uuidString.lowercased())") }
        let detail = WorkItemDetail(item: item, checkpoints: try await engine.checkpoints(itemID: id),
                                    events: try await engine.history(itemID: id))
        return try JSONBody.response(detail, for: request, context: context)
    }
}

/// A work item with its checkpoint summary and history: the item's own keys plus two more.
struct WorkItemDetail: Encodable {
    let item: WorkItem
    let checkpoints: [Checkpoint]
    let events: [ItemEvent]

    enum CodingKeys: String, CodingKey {
        case checkpoints, events
    }

    func encode(to encoder: any Encoder) throws {
        try item.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(checkpoints, forKey: .checkpoints)
        try container.encode(events, forKey: .events)
    }
}
