import Foundation
import Testing

@testable import JobEngine

/// The ingest takes what this run collected from memory, the rest from the staged copies, and the
/// sink cannot tell the difference.
@Suite struct CollectedTailTests {
    private static func document(_ seq: Int) -> Document {
        Document(key: "q1-\(seq)", body: Data(repeating: UInt8(seq % 251), count: 100))
    }

    /// "The store": staged copies of 0..<upTo, counting what is read from it.
    private final class Staged {
        let upTo: Int
        var reads: [Range<Int>] = []
        init(upTo: Int) { self.upTo = upTo }

        func read(from: Int, limit: Int) -> [SequencedDocument] {
            let range = from..<min(upTo, from + limit)
            reads.append(range)
            return range.map { SequencedDocument(seq: $0, document: document($0)) }
        }
    }

    @Test func batchesStraddlingTheKeptRangeAreConsecutiveAndTheKeptPartIsNotRead() {
        let budget = MemoryBudget(bytes: 8 * 10_000)
        var tail = CollectedTail(startingAt: 30, budget: budget)
        tail.keep((30..<60).map(Self.document))
        tail.keep((60..<90).map(Self.document))
        #expect(tail.end == 90)
        let staged = Staged(upTo: 120)
        var delivered: [SequencedDocument] = []
        var seq = 0
        while seq < 120 {
            let batch = tail.batch(from: seq, limit: 50, upTo: 120, read: staged.read)
            #expect(batch.map(\.seq) == Array(seq..<min(120, seq + 50)))
            delivered += batch
            seq += batch.count
        }
        #expect(delivered == (0..<120).map { SequencedDocument(seq: $0, document: Self.document($0)) })
        // Before the kept range (an earlier attempt's pages) and after it; never inside.
        #expect(staged.reads == [0..<30, 90..<100, 100..<120])
    }

    @Test func aPageBeyondTheItemsShareEndsKeepingAndTheBudgetComesBack() {
        // A share of 1,000 bytes: page one (3 × 104 bytes) fits, page two too, page three would not.
        let budget = MemoryBudget(bytes: 8_000)
        do {
            var tail = CollectedTail(startingAt: 0, budget: budget)
            tail.keep((0..<3).map(Self.document))
            tail.keep((3..<6).map(Self.document))
            tail.keep((6..<12).map(Self.document))
            tail.keep((12..<13).map(Self.document))  // would fit alone: kept documents stay contiguous
            #expect(tail.end == 6)
            #expect(budget.availableBytes == 8_000 - 6 * 104)
            let staged = Staged(upTo: 13)
            #expect(tail.batch(from: 0, limit: 50, upTo: 13, read: staged.read).map(\.seq) == Array(0..<13))
            #expect(staged.reads == [6..<13])
        }
        #expect(budget.availableBytes == 8_000)
    }

    @Test func anExhaustedEngineBudgetKeepsNothingMore() {
        let budget = MemoryBudget(bytes: 8_000)
        #expect(budget.reserve(7_900))
        var tail = CollectedTail(startingAt: 0, budget: budget)
        tail.keep((0..<3).map(Self.document))
        #expect(tail.end == 0)
        budget.release(7_900)
    }

    @Test func aShortStoreReadEndsTheBatchThere() {
        let budget = MemoryBudget(bytes: 80_000)
        var tail = CollectedTail(startingAt: 10, budget: budget)
        tail.keep((10..<20).map(Self.document))
        // Staged copies only up to 5: the batch stops there rather than skip to the kept ones.
        let staged = Staged(upTo: 5)
        #expect(tail.batch(from: 0, limit: 50, upTo: 20, read: staged.read).map(\.seq) == Array(0..<5))
    }

    /// End to end: an item of 12 MiB (beyond an item's 8 MiB share) that failed while collecting and
    /// was recovered: its ingest reads an earlier attempt's pages from the store, this attempt's
    /// first 8 MiB from memory and the rest from the store again, in batches that straddle both
    /// boundaries (pages of 30, batches of 50), and the sink gets every document once, in order,
    /// with its own key and body.
    @Test func aLargeRecoveredItemDeliversEveryDocumentOnceFromMemoryAndStore() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        var spec = makeSpec(items: ["q1"], documents: 120, pageSize: 30, batchSize: 50, sink: "sqlite", maxAttempts: 2,
                            faults: [FaultSpec(item: "q1", phase: .collect, atDocument: 45)])
        spec.collector.options["document_bytes"] = 102_400
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        let summary = try await engine.run(jobID: job.id)
        let item = try #require(summary.items.first)
        #expect(item.status == .succeeded && item.attempt == 2 && item.collectedTotal == 120)  // 30 not collected again
        engine.close()

        let rows = try query(folder.path("sink.sqlite"), "SELECT seq, key, data FROM documents ORDER BY seq")
        #expect(rows.map { $0.int("seq") } == Array(0..<120))
        let wrong = rows.filter { row in
            let key = "q1-\(row.int("seq"))"
            return row.string("key") != key
                || row.string("data") != String(decoding: SyntheticDocument.body(key: key, bytes: 102_400), as: UTF8.self)
        }
        #expect(wrong.isEmpty, "documents not their own: \(wrong.map { $0.int("seq") })")
    }
}
