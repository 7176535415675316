import Testing

@testable import JobEngine

/// `Connection.inSavepoint`, the helper group commit runs each write in.
@Suite struct SavepointTests {
    struct Refused: Error {}

    @Test func aFailedSavepointUndoesOnlyItsOwnChangesAndRethrows() throws {
        let db = try Connection(path: ":memory:")
        try db.execute("CREATE TABLE t (v TEXT)")
        try db.inTransaction {
            try db.execute("INSERT INTO t VALUES ('before')")
            #expect(throws: Refused.self) {
                try db.inSavepoint("s") {
                    try db.execute("INSERT INTO t VALUES ('undone')")
                    throw Refused()
                }
            }
            #expect(db.isInTransaction)
            try db.inSavepoint("s") { try db.execute("INSERT INTO t VALUES ('kept')") }
        }
        #expect(!db.isInTransaction)
        #expect(try db.execute("SELECT v FROM t ORDER BY rowid").compactMap { $0.string("v") } == ["before", "kept"])
    }
}
