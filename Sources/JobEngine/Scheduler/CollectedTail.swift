import Foundation

/// The documents an item collected in this run, kept in memory (within a budget) so the ingest that
/// follows takes them from here instead of reading their staged copies back from the store.
///
/// The staged copies stay the truth (invariant 1: they are committed with the page's checkpoint, and
/// a recover or another worker reads them from the store); this is only a copy of what this thread
/// itself committed, so it cannot differ from them. Reading them back cost a query per batch: on
/// PostgreSQL a round trip with 50 KiB in it, on SQLite a read on the writer's queue.
///
/// Kept from the first document this run collected, contiguously, until a page would not fit in
/// the item's share or the engine's budget; from there on the ingest reads the store as before. A
/// batch may straddle the boundary: the part outside the kept range comes from the store.
struct CollectedTail: ~Copyable {
    /// The seq of the first kept document.
    private let start: Int
    private var documents: [Document] = []
    private var bytes = 0
    private var full = false
    private let itemLimit: Int
    private let budget: MemoryBudget

    init(startingAt start: Int, budget: MemoryBudget) {
        self.start = start
        self.budget = budget
        itemLimit = budget.itemShare
    }

    deinit {
        budget.release(bytes)
    }

    /// One past the last kept document's seq.
    var end: Int { start + documents.count }

    /// Keeps a committed page, unless it does not fit; then nothing later is kept either (the kept
    /// documents must stay one contiguous run).
    mutating func keep(_ page: [Document]) {
        guard !full else { return }
        let size = page.reduce(0) { $0 + $1.body.count + $1.key.utf8.count }
        guard bytes + size <= itemLimit, budget.reserve(size) else {
            full = true
            return
        }
        bytes += size
        documents += page
    }

    /// The documents `seq..<min(seq + limit, total)`: the kept ones from memory, the others through
    /// `read(from, limit)` (the store's staged copies). Stops early where the store has fewer than
    /// asked, so the answer is always consecutive from `seq`.
    func batch(from seq: Int, limit: Int, upTo total: Int,
               read: (_ from: Int, _ limit: Int) throws -> [SequencedDocument]) rethrows -> [SequencedDocument] {
        let last = min(total, seq + limit)
        var batch: [SequencedDocument] = []
        var next = seq
        while next < last {
            if next >= start, next < end {
                let upTo = min(last, end)
                batch += (next..<upTo).map { SequencedDocument(seq: $0, document: documents[$0 - start]) }
                next = upTo
            } else {
                // Before the kept range (collected by an earlier attempt) or after it (past the budget).
                let upTo = next < start ? min(last, start) : last
                let read = try read(next, upTo - next)
                batch += read
                guard read.count == upTo - next else { return batch }
                next = upTo
            }
        }
        return batch
    }
}
