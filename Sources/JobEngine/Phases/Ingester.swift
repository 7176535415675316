import Foundation

/// A batch of an item's documents to deliver to a sink.
public struct Batch: Sendable {
    public let item: ItemContext
    /// Consecutive documents, in sequence order.
    public let documents: [SequencedDocument]

    /// Stable across retries and processes: the item id and the batch's sequence range, e.g.
    /// `6f1c…-0e2a:100-199`. A sink that deduplicates on it turns at-least-once delivery into
    /// exactly-once.
    public var idempotencyKey: String {
        "\(item.itemID.uuidString.lowercased()):\(documents.first?.seq ?? 0)-\(documents.last?.seq ?? -1)"
    }
}

/// Pushes an item's collected documents into a sink, batch by batch. Implement it for your own
/// sink and register it with `Engine.register(ingester:…)`.
///
/// Delivery is at-least-once: the engine commits a batch's checkpoint only after `ingest(_:)`
/// returns, so a crash between the two delivers that batch again on recover, with the same
/// `idempotencyKey`. The built-in sinks make it exactly-once: the JSONL sink truncates its file to
/// the checkpointed length in `prepare`, the SQLite sink upserts on (item, seq).
///
/// An ingester is made for each run of one item and called from one thread at a time.
public protocol Ingester {
    /// Called once before the first batch of a run. `sinkOffset` is the offset the last committed
    /// batch returned (nil when nothing was delivered yet): roll the sink back to it.
    func prepare(for item: ItemContext, sinkOffset: Int64?) throws
    /// Delivers a batch; returns the sink's new offset to store in the checkpoint (e.g. the file
    /// length), or nil when the sink has no such notion.
    func ingest(_ batch: Batch) throws -> Int64?
    /// Discards everything delivered for the item: called before a restarted item runs again.
    func reset(for item: ItemContext) throws
    /// Called after the item's last batch, or when the run stops: release resources.
    func finish(for item: ItemContext)
}

extension Ingester {
    public func prepare(for item: ItemContext, sinkOffset: Int64?) throws {}
    public func reset(for item: ItemContext) throws {}
    public func finish(for item: ItemContext) {}
}
