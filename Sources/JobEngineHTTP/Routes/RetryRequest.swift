import Foundation
import JobEngine

/// The body of `PUT /api/pipelines/work-items/retry`: `{"work_item_ids": ["<uuid>", ...]}`, or
/// `{"filter": {"job_id": …, "status": ["failed"], "error_kind": …, "error_contains": …, "phase": …,
/// "failed_since": …}}` (exactly one of the two).
struct RetryRequest {
    enum Target {
        case ids([UUID])
        case filter(RetryFilter)
    }

    let target: Target
    /// The body as sent.
    let json: JSONValue

    /// Reads the documented shapes strictly: a body that is neither gets a 400 naming what is off.
    init(_ body: JSONValue, maxIDs: Int) throws {
        json = body
        guard case .object(let object) = body else {
            throw APIError.badRequest("invalid_body", #"the body must be a JSON object like {"work_item_ids": ["<id>", ...]} or {"filter": {...}}"#)
        }
        if let unknown = object.keys.sorted().first(where: { $0 != "work_item_ids" && $0 != "filter" }) {
            throw APIError.badRequest("invalid_body", "unknown field \(unknown): the body has work_item_ids or filter")
        }
        switch (object["work_item_ids"], object["filter"]) {
        case (.some, .some):
            throw APIError.badRequest("invalid_body", "give work_item_ids or filter, not both")
        case (nil, nil):
            throw APIError.badRequest("invalid_body", "work_item_ids is missing: give an array of work item ids, or a filter")
        case (let ids?, nil):
            target = .ids(try Self.ids(ids, maxIDs: maxIDs))
        case (nil, let filter?):
            target = .filter(try Self.filter(filter))
        }
    }

    private static func ids(_ value: JSONValue, maxIDs: Int) throws -> [UUID] {
        guard case .array(let elements) = value else {
            throw APIError.badRequest("invalid_body", "work_item_ids must be an array of work item ids")
        }
        guard !elements.isEmpty else {
            throw APIError.badRequest("invalid_body", "work_item_ids is empty: give at least one work item id")
        }
        guard elements.count <= maxIDs else {
            throw APIError.badRequest("too_many_ids",
                                      "work_item_ids has \(elements.count) ids; at most \(maxIDs) per request (send several requests, or a filter)")
        }
        return try elements.enumerated().map { index, element in
            guard case .string(let text) = element, let id = UUID(uuidString: text) else {
                throw APIError.badRequest("invalid_id",
                                          "work_item_ids[\(index)] is not a work item id: expected a UUID like 3f2b6c1e-8a4d-4e7f-9b0a-1c2d3e4f5a6b")
            }
            return id
        }
    }

    private static let filterFields = ["job_id", "status", "error_kind", "error_contains", "phase", "failed_since"]

    private static func filter(_ value: JSONValue) throws -> RetryFilter {
        guard case .object(let fields) = value else {
            throw APIError.badRequest("invalid_filter", #"filter must be an object like {"job_id": "<uuid>", "error_kind": "transient"}"#)
        }
        if let unknown = fields.keys.sorted().first(where: { !filterFields.contains($0) }) {
            throw APIError.badRequest("invalid_filter", "unknown field filter.\(unknown): a filter has \(filterFields.joined(separator: ", "))")
        }
        func text(_ name: String) throws -> String? {
            switch fields[name] {
            case nil, .null?: return nil
            case .string(let text)?: return text
            default: throw APIError.badRequest("invalid_filter", "filter.\(name) must be a string")
            }
        }
        var filter = RetryFilter()
        if let job = try text("job_id") {
            guard let id = UUID(uuidString: job) else {
                throw APIError.badRequest("invalid_filter", "filter.job_id is not a job id: expected a UUID like 3f2b6c1e-8a4d-4e7f-9b0a-1c2d3e4f5a6b")
            }
            filter.jobID = id
        }
        switch fields["status"] {
        case nil, .null?: break
        case .array(let elements)? where !elements.isEmpty:
            filter.statuses = try Set(elements.enumerated().map { index, element in
                guard case .string(let name) = element, let status = WorkItemStatus(rawValue: name), status == .failed || status == .cancelled else {
                    throw APIError.badRequest("invalid_filter", #"filter.status[\#(index)] is not "failed" or "cancelled", the statuses a retry starts from"#)
                }
                return status
            })
        default:
            throw APIError.badRequest("invalid_filter", #"filter.status must be a non-empty array like ["failed"] or ["failed", "cancelled"]"#)
        }
        if let kind = try text("error_kind") {
            guard let errorKind = ErrorKind(rawValue: kind) else {
                throw APIError.badRequest("invalid_filter",
                                          "filter.error_kind \(kind) is not an error kind: give one of \(ErrorKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            filter.errorKind = errorKind
        }
        if let contains = try text("error_contains") {
            guard !contains.isEmpty else { throw APIError.badRequest("invalid_filter", "filter.error_contains is empty: give the text to look for") }
            filter.errorContains = contains
        }
        if let phase = try text("phase") {
            guard let value = Phase(rawValue: phase), value != .done else {
                throw APIError.badRequest("invalid_filter", "filter.phase \(phase) is not a phase an item stops in: give collect or ingest")
            }
            filter.phase = value
        }
        if let since = try text("failed_since") {
            guard let instant = TimeText.instant(since) else {
                throw APIError.badRequest("invalid_filter", "filter.failed_since \(since) is not a time: give \(TimeText.instantForms)")
            }
            filter.failedSince = instant
        }
        return filter
    }
}

/// The answer to a retry: `total` is the number of items whose retry started (or would, for a dry
/// run). A filter can match a million items, so `started` and `skipped` list the first
/// ``listLimit`` ids each; `skipped_total` counts every skipped one.
struct RetryResponse: Codable, Sendable, Equatable {
    static let listLimit = 1000

    struct Skipped: Codable, Sendable, Equatable {
        let id: String
        let code: String
        let reason: String
    }

    let total: Int
    let started: [String]
    let skipped: [Skipped]
    let skippedTotal: Int
    let dryRun: Bool

    enum CodingKeys: String, CodingKey {
        case total, started, skipped, skippedTotal = "skipped_total", dryRun = "dry_run"
    }

    init(_ result: RetryResult, dryRun: Bool) {
        total = result.total
        started = result.started.prefix(Self.listLimit).map { $0.uuidString.lowercased() }
        skippedTotal = result.skipped.count
        skipped = result.skipped.prefix(Self.listLimit).map { skipped in
            let code: String
            switch skipped.reason {
            case .unknown: code = "unknown"
            case .notRetryable: code = "not_retryable"
            case .parametersChanged: code = "parameters_changed"
            case .jobCancelled: code = "job_cancelled"
            }
            return Skipped(id: skipped.id.uuidString.lowercased(), code: code, reason: skipped.reason.description)
        }
        self.dryRun = dryRun
    }
}
