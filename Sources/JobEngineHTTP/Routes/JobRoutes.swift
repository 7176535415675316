import Foundation
import Hummingbird
import JobEngine

/// `/api/pipelines/jobs`: list jobs, read one, page through its items, cancel it.
struct JobRoutes<Context: RequestContext>: Sendable {
    let engine: Engine
    let configuration: APIConfiguration

    func register<Methods: RouterMethods<Context>>(on api: Endpoints<Methods>) {
        api.add("jobs", [.get: list])
        api.add("jobs/:id", [.get: job])
        api.add("jobs/:id/work-items", [.get: items])
        api.add("jobs/:id/activity", [.get: activity])
        api.add("jobs/:id/state/cancelled", [.patch: cancel])
    }

    /// `GET jobs` → `{"jobs": [...]}`, each as `engine-run status --json` prints it.
    @Sendable func list(_ request: Request, context: Context) async throws -> Response {
        try JSONBody.response(["jobs": try await engine.jobStatuses()], for: request, context: context)
    }

    /// `GET jobs/{id}`: the job's standing plus its spec's settings (without the item list).
    @Sendable func job(_ request: Request, context: Context) async throws -> Response {
        let status = try await status(of: try context.uuidParameter("id", describing: "job"))
        return try JSONBody.response(JobDetail(status: status), for: request, context: context)
    }

    /// `GET jobs/{id}/work-items?status=&error_kind=&error_contains=&limit=&cursor=` →
    /// `{"work_items": [...], "next_cursor": ...}`.
    @Sendable func items(_ request: Request, context: Context) async throws -> Response {
        let jobID = try context.uuidParameter("id", describing: "job")
        let status = try request.enumQuery("status", as: WorkItemStatus.self)
        let errorKind = try request.enumQuery("error_kind", as: ErrorKind.self)
        let errorContains = request.query("error_contains").flatMap { $0.isEmpty ? nil : $0 }
        let limit = try request.intQuery("limit", default: configuration.defaultPageLimit, range: 1...configuration.maxPageLimit)
        let after = try PageCursor.decode(request.query("cursor"))
        guard try await engine.job(jobID.uuidString) != nil else { throw Self.unknownJob(jobID) }
        let page = try await engine.itemsPage(jobID: jobID, status: status, errorKind: errorKind, errorContains: errorContains,
                                              after: after, limit: limit)
        return try JSONBody.response(ItemListing(workItems: page.items, nextCursor: page.nextAfter.map(PageCursor.encode)), for: request, context: context)
    }

    /// `GET jobs/{id}/activity[?minutes=60]`: documents per second over the window, failures by
    /// minute and kind, and the time left at the rate items succeeded in the last ten minutes.
    @Sendable func activity(_ request: Request, context: Context) async throws -> Response {
        let jobID = try context.uuidParameter("id", describing: "job")
        let minutes = try request.intQuery("minutes", default: 60, range: 1...1440)
        guard try await engine.job(jobID.uuidString) != nil else { throw Self.unknownJob(jobID) }
        let activity = try await engine.activity(jobID: jobID, since: Date().addingTimeInterval(-Double(minutes) * 60))
        return try JSONBody.response(ActivityListing(activity), for: request, context: context)
    }

    /// `PATCH jobs/{id}/state/cancelled`: pending items are cancelled now, running ones at their
    /// next checkpoint, as `engine-run cancel` does.
    @Sendable func cancel(_ request: Request, context: Context) async throws -> Response {
        let jobID = try context.uuidParameter("id", describing: "job")
        guard try await engine.job(jobID.uuidString) != nil else { throw Self.unknownJob(jobID) }
        let cancelled = try await engine.cancel(jobID: jobID)
        context.logger.info("job cancelled", metadata: ["job": "\(jobID)", "pending_cancelled": "\(cancelled)"])
        return try JSONBody.response(JobDetail(status: try await status(of: jobID), cancelledPending: cancelled), for: request, context: context)
    }

    private func status(of jobID: UUID) async throws -> JobStatus {
        guard let status = try await engine.jobStatus(jobID) else { throw Self.unknownJob(jobID) }
        return status
    }

    private static func unknownJob(_ id: UUID) -> APIError {
        APIError.notFound("no job has the id \(id.uuidString.lowercased())")
    }
}

struct ItemListing: Encodable {
    let workItems: [WorkItem]
    let nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case workItems = "work_items", nextCursor = "next_cursor"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(workItems, forKey: .workItems)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

/// A job's standing with its spec settings; after a cancel, also how many pending items it cancelled.
struct JobDetail: Encodable {
    let status: JobStatus
    var cancelledPending: Int?

    enum CodingKeys: String, CodingKey {
        case spec, cancelledPending = "cancelled_pending"
    }

    func encode(to encoder: any Encoder) throws {
        try status.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        if case .object(var object) = status.job.spec.jsonValue {
            object["items"] = nil
            object["item_count"] = .number(Double(status.itemCount))
            try container.encode(JSONValue.object(object), forKey: .spec)
        }
        try container.encodeIfPresent(cancelledPending, forKey: .cancelledPending)
    }
}
