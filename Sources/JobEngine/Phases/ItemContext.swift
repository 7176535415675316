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
    /// Asked by the scheduler: why the item should stop, if it should (the engine is shutting down,
    /// or the job was cancelled through this engine).
    let stopCheck: @Sendable () -> StopReason?
    /// Records outside work for this item in the store (`claim(_:token:)`).
    let claimCheck: @Sendable (_ resource: String, _ token: String) throws -> Bool

    /// True once the item should stop: the engine is shutting down, or the job was cancelled in this
    /// process. A collector or sink that waits (a vendor's job to finish, a rate limit, a back-off)
    /// checks it while it waits and throws ``WaitStopped`` (``checkStopping()``) to end the wait at
    /// once; the engine then records the item as it does at a checkpoint. A cancel from another
    /// process is seen at the item's next checkpoint.
    public var isStopping: Bool { stopCheck() != nil }

    /// True once the item stops because its job was cancelled (not because the engine shuts down,
    /// after which `recover` goes on): a collector may then give up paid work at its vendor.
    public var isCancelled: Bool { stopCheck() == .cancelled }

    /// Throws ``WaitStopped`` once ``isStopping``: call it while waiting.
    public func checkStopping() throws {
        if isStopping { throw WaitStopped() }
    }

    /// Records in the store that the outside work `resource` (a vendor's snapshot id, say) belongs to
    /// this item's attempt chain `token`; true when it does (claimed now, or earlier with the same
    /// token), false when another item or another attempt chain of this one claimed it first.
    ///
    /// A collector that pays for work outside the engine claims it as soon as it knows its id, and a
    /// collector that finds such work after a crash (paid for, but its id never checkpointed) claims
    /// it before adopting it: so two items with alike inputs never adopt the same work, and a
    /// restart's lookup never adopts what an earlier attempt chain paid for.
    public func claim(_ resource: String, token: String) throws -> Bool {
        try claimCheck(resource, token)
    }
}

/// Thrown by a collector or sink that ended a wait because the item is stopping
/// (``ItemContext/isStopping``): the engine records the item as stopped (cancelled, or interrupted
/// by the shutdown), not as failed.
public struct WaitStopped: Error, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "stopped while waiting" }
}
