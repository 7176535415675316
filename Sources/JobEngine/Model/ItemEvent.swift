import Foundation

/// One row of an item's append-only history: a status transition.
public struct ItemEvent: Sendable, Equatable {
    public let id: Int64
    public let itemID: UUID
    public let attempt: Int
    /// `nil` when the item was created.
    public let from: WorkItemStatus?
    public let to: WorkItemStatus
    public let mode: RetryMode?
    public let error: String?
    public let errorKind: ErrorKind?
    public let at: Date

    package init(id: Int64, itemID: UUID, attempt: Int, from: WorkItemStatus?, to: WorkItemStatus, mode: RetryMode?, error: String?,
                 errorKind: ErrorKind?, at: Date) {
        self.id = id
        self.itemID = itemID
        self.attempt = attempt
        self.from = from
        self.to = to
        self.mode = mode
        self.error = error
        self.errorKind = errorKind
        self.at = at
    }
}
