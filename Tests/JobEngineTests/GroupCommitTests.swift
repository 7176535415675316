import Foundation
import JobEngineTestSupport
import Testing

@testable import JobEngine

@Suite struct GroupCommitTests {
    @Test(arguments: ["memory", "file"])
    func writesQueuedTogetherCommitInOneTransactionAndFailAlone(kind: String) throws {
        let folder = try TemporaryDirectory()
        let store = try Store(path: kind == "memory" ? ":memory:" : folder.storePath)
        try store.writer.sync { db in try db.execute("CREATE TABLE scratch (writer INTEGER, row INTEGER)") }
        let before = store.checkpointStatistics

        // Hold the writer so eight writers queue up behind it, as busy items do.
        let holding = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        // Serial queues get threads of their own; the width-limited global queue could not hold
        // nine blocked writers at once on a 2-core machine.
        DispatchQueue(label: "holder").async {
            store.writer.sync { _ in
                holding.signal()
                release.wait()
            }
        }
        holding.wait()
        let outcomes = Locked<[Int: Bool]>([:])
        let group = DispatchGroup()
        for writer in 0..<8 {
            DispatchQueue(label: "writer-\(writer)").async(group: group) {
                let succeeded: Bool
                do {
                    try store.checkpoints.write(sync: .normal) { db in
                        for row in 0..<3 {
                            try db.execute("INSERT INTO scratch VALUES (?, ?)", [.integer(Int64(writer)), .integer(Int64(row))])
                        }
                        if writer == 5 { throw PhaseError.transient("this write fails after its inserts") }
                    }
                    succeeded = true
                } catch {
                    succeeded = false
                }
                outcomes.withLock { $0[writer] = succeeded }
            }
        }
        let deadline = Date().addingTimeInterval(TestTime.scaled(10))
        while store.checkpoints.queuedCount < 8 && Date() < deadline { Thread.sleep(forTimeInterval: 0.001) }
        #expect(store.checkpoints.queuedCount == 8)
        release.signal()
        #expect(group.wait(timeout: .now() + 10) == .success)

        #expect(outcomes.withLock { $0 } == [0: true, 1: true, 2: true, 3: true, 4: true, 5: false, 6: true, 7: true])
        let rows = try store.writer.sync { db in try db.execute("SELECT writer, COUNT(*) AS n FROM scratch GROUP BY writer") }
        #expect(rows.map { $0.int("writer") } == [0, 1, 2, 3, 4, 6, 7])  // the failed write left nothing
        #expect(rows.allSatisfy { $0.int("n") == 3 })
        let after = store.checkpointStatistics
        #expect(after.transactions - before.transactions == 1)
        #expect(after.checkpoints - before.checkpoints == 8)
        store.close()
    }
}
