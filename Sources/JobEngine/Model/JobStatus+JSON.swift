import Foundation

extension JobStatus {
    /// A job's state at a glance, derived from its items.
    public enum State: String, Sendable, Encodable {
        /// Items are pending or running.
        case active
        /// Nothing runs, and some items failed or were cancelled: an operator should look.
        case needsAttention = "needs attention"
        /// Every item succeeded.
        case done
        /// The job was cancelled.
        case cancelled
    }

    public var state: State {
        if job.cancelled { return .cancelled }
        if (counts[.running] ?? 0) > 0 || (counts[.pending] ?? 0) > 0 { return .active }
        if (counts[.failed] ?? 0) > 0 || (counts[.cancelled] ?? 0) > 0 { return .needsAttention }
        return .done
    }
}

/// The JSON shape of a job's standing that `engine-run status --json` prints and the HTTP API serves:
/// snake_case keys, every status present in `items`, absent values `null`.
extension JobStatus: Encodable {
    enum CodingKeys: String, CodingKey {
        case id, name, specVersion = "spec_version", state, items, collected, ingested
        case collectedTotal = "collected_total", lastProgress = "last_progress", secondsSinceProgress = "seconds_since_progress"
        case specError = "spec_error"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(job.id.uuidString.lowercased(), forKey: .id)
        try container.encode(job.name, forKey: .name)
        try container.encode(job.specVersion, forKey: .specVersion)
        try container.encode(state, forKey: .state)
        try container.encode(Dictionary(uniqueKeysWithValues: WorkItemStatus.allCases.map { ($0.rawValue, counts[$0] ?? 0) }),
                             forKey: .items)
        try container.encode(collected, forKey: .collected)
        try container.encode(ingested, forKey: .ingested)
        try container.encode(collectedTotal, forKey: .collectedTotal)
        try container.encode(lastProgress.map { ISO8601DateFormatter().string(from: $0) }, forKey: .lastProgress)
        try container.encode(secondsSinceProgress(now: Date()), forKey: .secondsSinceProgress)
        try container.encode(job.specError, forKey: .specError)
    }

    /// Seconds since the last checkpoint, to a tenth; nil before the first one.
    public func secondsSinceProgress(now: Date) -> Double? {
        lastProgress.map { (now.timeIntervalSince($0) * 10).rounded() / 10 }
    }
}
