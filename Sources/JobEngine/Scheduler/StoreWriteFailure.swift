import CSQLite
import Foundation

/// A store write that failed for a reason other than lock contention (which is waited out): the
/// item fails as transient with a message an operator can act on, not a raw SQLite dump.
struct StoreWriteFailure: Error, CustomStringConvertible {
    let underlying: SQLiteError

    var description: String {
        switch underlying.resultCode {
        case .full:
            return "the store's disk is full: \(underlying.message); free space on it, then retry with recover"
        case .ioError:
            return "the store could not be written (I/O error \(underlying.code): \(underlying.message)); "
                + "check its disk, then retry with recover"
        case .readOnly:
            return "the store became read-only: \(underlying.message)"
        default:
            return "the store refused a write: \(underlying)"
        }
    }

    /// The store was closed under the runner (the engine shut down): nothing more can be written.
    var storeClosed: Bool { underlying.resultCode == .misuse }
}

/// Waits that grow 50 ms, 100 ms, … up to `cap`: for lock contention, which passes when the other
/// process commits, and for recording an outcome the store refused.
struct Backoff {
    private var next: Double = 0.05
    let cap: Double

    init(cap: Double = 2) {
        self.cap = cap
    }

    /// Sleeps for the current wait and doubles the next.
    mutating func sleep() {
        Thread.sleep(forTimeInterval: next)
        next = min(cap, next * 2)
    }
}
