import Foundation
import Logging

/// What a collector or ingester knows about the work item it serves.
public struct ItemContext: Sendable {
    public let jobID: UUID
    public let jobName: String
    public let itemID: UUID
    public let itemName: String
    public let attempt: Int
    /// The item's `params` from the spec.
    public let params: [String: JSONValue]
    /// Carries the job, item and attempt as metadata.
    public let logger: Logger
}
