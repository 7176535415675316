import Foundation

/// The JSON shape of a work item that `engine-run items --json` prints and the HTTP API serves:
/// snake_case keys, every key present (absent values are `null`), so clients can rely on them.
extension WorkItem: Encodable {
    enum CodingKeys: String, CodingKey {
        case id, job, jobID = "job_id", name, status, phase, attempt, collected, ingested
        case collectedTotal = "collected_total", notCollectedAgain = "not_collected_again", error, errorKind = "error_kind", retryMode = "retry_mode"
        case leaseOwner = "lease_owner", params, updatedAt = "updated_at", progressNote = "progress_note"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id.uuidString.lowercased(), forKey: .id)
        try container.encode(jobName, forKey: .job)
        try container.encode(jobID.uuidString.lowercased(), forKey: .jobID)
        try container.encode(name, forKey: .name)
        try container.encode(status, forKey: .status)
        try container.encode(phase, forKey: .phase)
        try container.encode(attempt, forKey: .attempt)
        try container.encode(collected, forKey: .collected)
        try container.encode(ingested, forKey: .ingested)
        try container.encode(collectedTotal, forKey: .collectedTotal)
        try container.encode(notCollectedAgain, forKey: .notCollectedAgain)
        try container.encode(lastError, forKey: .error)
        try container.encode(errorKind, forKey: .errorKind)
        try container.encode(retryMode, forKey: .retryMode)
        try container.encode(leaseOwner, forKey: .leaseOwner)
        try container.encode(parameters, forKey: .params)
        try container.encode(ISO8601DateFormatter().string(from: updatedAt), forKey: .updatedAt)
        try container.encode(progressNote, forKey: .progressNote)
    }
}

/// The JSON shape of one history entry.
extension ItemEvent: Encodable {
    enum CodingKeys: String, CodingKey {
        case id, itemID = "item_id", attempt, from, to, mode, error, errorKind = "error_kind", at
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(itemID.uuidString.lowercased(), forKey: .itemID)
        try container.encode(attempt, forKey: .attempt)
        try container.encode(from, forKey: .from)
        try container.encode(to, forKey: .to)
        try container.encode(mode, forKey: .mode)
        try container.encode(error, forKey: .error)
        try container.encode(errorKind, forKey: .errorKind)
        try container.encode(ISO8601DateFormatter().string(from: at), forKey: .at)
    }
}
