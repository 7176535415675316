import Foundation

/// Leaves other processes a turn at SQLite's write lock when this connection writes back to back.
///
/// A process waiting for the lock (SQLite's busy handler, Python's `timeout`, another engine) does
/// not queue for it: it sleeps and tries again, up to 100 ms apart. A writer that begins its next
/// transaction the instant the last one commits leaves the lock free only for microseconds, so
/// such a waiter can miss every try for as long as the engine stays busy (measured: up to 5.6 s
/// behind a 1,000,000-item submit; under ThreadSanitizer, a whole run). After `streak` of
/// transactions with no pause of `idle` between them, the connection waits `breather` before its
/// next BEGIN: a waiter that polls every 100 ms lands in one such pause with probability about
/// `breather / (streak + breather)` per try, and the engine gives up that share of its write time,
/// only while it is saturated. 20 ms after 200 ms (9 %): once WAL checkpoints left the writer's
/// COMMIT (`WALCheckpointer`), the lock lost the ~200 ms gaps they had made every 64 MiB, and at
/// 12 ms after 250 ms a polling writer waited 2.2–2.3 s behind a million-item submit (1.5–1.8 s
/// now; engine-bench scale-probe).
///
/// Confined like its connection: only touched on the connection's queue.
struct WriteLockShare {
    var streak: Duration = .milliseconds(200)
    var breather: Duration = .milliseconds(20)
    var idle: Duration = .milliseconds(2)

    private var streakStart: ContinuousClock.Instant?
    private var lastEnd: ContinuousClock.Instant?
    private var begun: ContinuousClock.Instant?
    /// The longest this connection held the write lock in one transaction, since it opened: what a
    /// bounded bulk write promises to keep short (engine-bench measures it during a large submit).
    private(set) var longestHold: Duration = .zero

    /// Called before BEGIN IMMEDIATE: waits out a breather when the streak is long enough.
    mutating func beforeBegin() {
        let now = ContinuousClock.now
        defer { begun = ContinuousClock.now }
        guard let lastEnd, let streakStart, now - lastEnd < idle else {
            streakStart = now
            return
        }
        if now - streakStart >= streak {
            Thread.sleep(forTimeInterval: breather.inSeconds)
            self.streakStart = ContinuousClock.now
        }
    }

    /// Called once the transaction committed or rolled back: the lock is free from here, or from
    /// `lockReleasedAt` when the connection knows when its commit released it.
    mutating func afterEnd(lockReleasedAt: ContinuousClock.Instant? = nil) {
        let now = ContinuousClock.now
        lastEnd = now
        if let begun { longestHold = max(longestHold, (lockReleasedAt ?? now) - begun) }
        begun = nil
    }
}
