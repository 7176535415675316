import Foundation
import JobEngine

/// The body of `PUT /api/pipelines/work-items/retry`: `{"work_item_ids": ["<uuid>", ...]}`.
struct RetryRequest {
    let ids: [UUID]

    /// Reads the documented shape strictly: a body that is not it gets a 400 naming what is off.
    init(_ body: JSONValue, maxIDs: Int) throws {
        guard case .object(let object) = body else {
            throw APIError.badRequest("invalid_body", #"the body must be a JSON object like {"work_item_ids": ["<id>", ...]}"#)
        }
        if let unknown = object.keys.sorted().first(where: { $0 != "work_item_ids" }) {
            throw APIError.badRequest("invalid_body", "unknown field \(unknown): the body has only work_item_ids")
        }
        guard let value = object["work_item_ids"] else {
            throw APIError.badRequest("invalid_body", "work_item_ids is missing: give an array of work item ids")
        }
        guard case .array(let elements) = value else {
            throw APIError.badRequest("invalid_body", "work_item_ids must be an array of work item ids")
        }
        guard !elements.isEmpty else {
            throw APIError.badRequest("invalid_body", "work_item_ids is empty: give at least one work item id")
        }
        guard elements.count <= maxIDs else {
            throw APIError.badRequest("too_many_ids",
                                      "work_item_ids has \(elements.count) ids; at most \(maxIDs) per request (send several requests)")
        }
        ids = try elements.enumerated().map { index, element in
            guard case .string(let text) = element, let id = UUID(uuidString: text) else {
                throw APIError.badRequest("invalid_id",
                                          "work_item_ids[\(index)] is not a work item id: expected a UUID like 3f2b6c1e-8a4d-4e7f-9b0a-1c2d3e4f5a6b")
            }
            return id
        }
    }
}

/// The answer to a retry: `total` is the number of items whose retry started (or would, for a dry run).
struct RetryResponse: Encodable {
    struct Skipped: Encodable {
        let id: String
        let code: String
        let reason: String
    }

    let total: Int
    let started: [String]
    let skipped: [Skipped]
    let dryRun: Bool

    enum CodingKeys: String, CodingKey {
        case total, started, skipped, dryRun = "dry_run"
    }

    init(_ result: RetryResult, dryRun: Bool) {
        total = result.total
        started = result.started.map { $0.uuidString.lowercased() }
        skipped = result.skipped.map { skipped in
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
