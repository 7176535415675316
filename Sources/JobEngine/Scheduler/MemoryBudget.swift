import Foundation

/// Bytes of collected documents the engine keeps in memory for the ingest that follows, over all
/// its running items; an item keeps at most an eighth of it, so one large item cannot starve the
/// others.
final class MemoryBudget: Sendable {
    static let defaultBytes = 64 << 20

    let itemShare: Int
    private let available: Locked<Int>

    init(bytes: Int = MemoryBudget.defaultBytes) {
        available = Locked(bytes)
        itemShare = bytes / 8
    }

    /// Takes `bytes` from the budget if they are there.
    func reserve(_ bytes: Int) -> Bool {
        available.withLock { available in
            guard available >= bytes else { return false }
            available -= bytes
            return true
        }
    }

    func release(_ bytes: Int) {
        available.withLock { $0 += bytes }
    }

    /// What is left, for tests.
    var availableBytes: Int { available.withLock { $0 } }
}
