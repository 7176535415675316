import Foundation
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

    /// `PUT work-items/retry?type=restart|recover[&dry_run=true]` → `{"total": N, ...}`.
    @Sendable func retry(_ request: Request, context: Context) async throws -> Response {
        guard let mode = try request.enumQuery("type", as: RetryMode.self) else {
            throw APIError.badRequest("missing_parameter", "query parameter type is required: restart or recover")
        }
        let dryRun = try request.boolQuery("dry_run")
        let body = try RetryRequest(try await JSONBody.read(request, limit: configuration.maxBodyBytes),
                                    maxIDs: configuration.maxRetryIDs)
        if dryRun {
            return try JSONBody.response(RetryResponse(try await engine.retryPreview(body.ids, mode: mode), dryRun: true), for: request, context: context)
        }
        let result = try await engine.retry(body.ids, mode: mode)
        if result.total > 0 { worker?.nudge() }
        context.logger.info("retry started", metadata: ["mode": "\(mode.rawValue)", "total": "\(result.total)",
                                                        "skipped": "\(result.skipped.count)"])
        return try JSONBody.response(RetryResponse(result, dryRun: false), for: request, context: context)
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
