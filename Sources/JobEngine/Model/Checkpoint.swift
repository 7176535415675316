import Foundation

/// Where a work item's phase stands: the last page or batch it committed.
public struct Checkpoint: Sendable, Equatable {
    public let phase: Phase
    /// Collect: the collector's opaque cursor for the next page (nil once the source is exhausted).
    public let cursor: String?
    /// Collect: documents staged; ingest: documents delivered.
    public let documents: Int
    /// Ingest: the sink's offset after the last batch (the file sink's byte length), if it has one.
    public let sinkOffset: Int64?
    public let updatedAt: Date

    package init(phase: Phase, cursor: String?, documents: Int, sinkOffset: Int64?, updatedAt: Date) {
        self.phase = phase
        self.cursor = cursor
        self.documents = documents
        self.sinkOffset = sinkOffset
        self.updatedAt = updatedAt
    }
}

extension Checkpoint: Encodable {
    enum CodingKeys: String, CodingKey {
        case phase, cursor, documents, sinkOffset = "sink_offset", updatedAt = "updated_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(phase, forKey: .phase)
        try container.encode(cursor, forKey: .cursor)
        try container.encode(documents, forKey: .documents)
        try container.encode(sinkOffset, forKey: .sinkOffset)
        try container.encode(ISO8601DateFormatter().string(from: updatedAt), forKey: .updatedAt)
    }
}
