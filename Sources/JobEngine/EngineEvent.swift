import Foundation

/// Progress an embedder can observe with `Engine.events()` or `Engine.observe(_:)`.
public enum EngineEvent: Sendable {
    /// A worker claimed the item and starts (or continues) it.
    case itemStarted(WorkItem)
    /// A page was staged and checkpointed; `collected` documents are staged in all.
    case pageCollected(itemID: UUID, collected: Int)
    /// A batch reached the sink and was checkpointed; `ingested` documents are delivered in all.
    case batchIngested(itemID: UUID, ingested: Int)
    /// The item stopped: `succeeded`, `failed` (perhaps with an automatic retry queued, then it
    /// reads `pending`) or `cancelled`.
    case itemStopped(WorkItem)
    /// Items whose worker died were marked `failed` with kind `interrupted`.
    case itemsInterrupted([UUID])
}
