import Dispatch
import Foundation

/// The items this engine's threads are working on right now, and the outcomes it could not record.
///
/// The heartbeat renews the leases of exactly these items (invariant 8: a worker never holds a
/// lease for an item no thread is working on), the sweep spares them, and a stop that outlasts its
/// grace period abandons them.
final class RunningItems: Sendable {
    /// How an item ended when the store would not take the news: the run reports it, and the item's
    /// lease (no longer renewed) expires so a sweep marks it interrupted, recoverable.
    struct Unrecorded: Sendable {
        let status: WorkItemStatus
        let error: String
        let kind: ErrorKind?
    }

    /// Each item with the slot whose thread is on it.
    private let entries = Locked<[String: Slot]>([:])
    private let unrecorded = Locked<[String: Unrecorded]>([:])

    /// Called inside the claim's transaction, before it commits: a sweep that sees the item
    /// `running` under this engine also sees it here.
    func begin(_ itemID: String, slot: Slot) {
        entries.withLock { $0[itemID] = slot }
        unrecorded.withLock { $0[itemID] = nil }
    }

    /// The slot's thread left the item. Only its own entry goes: the item may already have been
    /// claimed again by another slot (an automatic retry without back-off).
    func end(_ itemID: String, slot: Slot) {
        entries.withLock { entries in
            if entries[itemID] === slot { entries[itemID] = nil }
        }
    }

    func contains(_ itemID: String) -> Bool {
        entries.withLock { $0[itemID] != nil }
    }

    var ids: [String] { entries.withLock { Array($0.keys) } }

    /// Whether the engine leaves items `running` in the store that no thread of it will finish: its
    /// owner lock file must then stay (unlocked), so the next engine's probe proves it dead at once.
    var leftBehind: Bool {
        !entries.withLock(\.isEmpty) || !unrecorded.withLock(\.isEmpty)
    }

    /// Removes every item and returns them with their slots: the stop's grace period ran out.
    func abandonAll() -> [(itemID: String, slot: Slot)] {
        entries.withLock { entries in
            defer { entries.removeAll() }
            return entries.map { ($0.key, $0.value) }
        }
    }

    func recordUnrecorded(_ itemID: String, _ outcome: Unrecorded) {
        unrecorded.withLock { $0[itemID] = outcome }
    }

    /// The outcome of `itemID` that could not be recorded, if any.
    func unrecordedOutcome(_ itemID: String) -> Unrecorded? {
        unrecorded.withLock { $0[itemID] }
    }
}

/// One scheduler slot's membership in its run's `DispatchGroup`: left exactly once, by the slot's
/// thread when it ends or by a stop that gave up waiting for it, whichever comes first.
final class Slot: Sendable {
    private let group: DispatchGroup
    private let left = Locked(false)

    init(group: DispatchGroup) {
        group.enter()
        self.group = group
    }

    func leave() {
        let first = left.withLock { left in
            defer { left = true }
            return !left
        }
        if first { group.leave() }
    }
}
