import Foundation
import JobEngineTestSupport
import Testing

@testable import JobEngine

/// The pieces a million-item submit runs per line or per commit, made cheaper for it: each must
/// still give what the slow way gave.
@Suite struct SubmitHotPathTests {
    @Test func duplicateKeysAreFoundWithTheirPathsEscapedOrNot() {
        #expect(DuplicateKeys.find(in: Data(#"{"a": 1, "\u0061": 2}"#.utf8)) == ["a"])
        #expect(DuplicateKeys.find(in: Data(#"{"x": [{"k": 1}, {"k": 1, "k": 2}]}"#.utf8)) == ["x[1].k"])
        #expect(DuplicateKeys.find(in: Data(#"{"": 1, "": 2}"#.utf8)) == [""])
        #expect(DuplicateKeys.find(in: Data(#"{"a": "b:", "c": ["d", "e:"], "e": {"f": "a"}}"#.utf8)).isEmpty)
        #expect(DuplicateKeys.find(in: Data(#"{"q\"uote": 1, "q\"uote": 2}"#.utf8)) == [#"q"uote"#])
        // Past the first sixteen keys of an object, which are kept in a list, the rest in a set.
        let many = (0..<40).map { "\"k\($0)\": \($0)" }.joined(separator: ", ")
        #expect(DuplicateKeys.find(in: Data("{\(many), \"k30\": 0, \"k3\": 0}".utf8)) == ["k30", "k3"])
        #expect(DuplicateKeys.find(in: Data("{\"outer\": {\(many)}}".utf8)).isEmpty)
    }

    @Test func itemIDsAreUniqueVersion7UUIDsInLowercase() {
        let ids = (0..<50_000).map { _ in ItemID.next() }
        #expect(Set(ids).count == ids.count)
        for id in ids.prefix(1_000) {
            #expect(UUID(uuidString: id)?.uuidString.lowercased() == id, "\(id) reads back as the same UUID")
            let bytes = Array(id.utf8)
            #expect(bytes.count == 36 && bytes[14] == UInt8(ascii: "7"))
            #expect("89ab".utf8.contains(bytes[19]), "variant bits of \(id)")
        }
    }

    @Test func usualItemLinesAndOtherLinesReadAsBefore() {
        func item(_ line: String) -> ItemSpec? {
            if case .item(let item) = ItemsFile.read(Data(line.utf8), line: 1) { return item }
            return nil
        }
        #expect(item(#"{"name": "a", "params": {"q": 1}}"#) == ItemSpec(name: "a", params: ["q": .number(1)]))
        #expect(item(#"{"params": {}, "name": "b"}"#) == ItemSpec(name: "b"))
        #expect(item(#"{"name": "c"}"#) == ItemSpec(name: "c"))
        #expect(item(#"{"name": "d", "params": {"x": 1}, "extra": 1}"#) == nil)
        #expect(item(#"{"name": "e", "params": [1]}"#) == nil)
        #expect(item(#"{"name": "", "params": {}}"#) == nil)
        #expect(item("{\"name\": \"bad\\u0007\", \"params\": {}}") == nil)
        #expect(item(#"{"name": "f", "name": "g"}"#) == nil)
    }

    /// A connection whose WAL crossed the threshold copies it back on the checkpointer's thread: the
    /// database file grows with no further commit from the writer.
    @Test func aCommitPastTheThresholdIsCheckpointedInTheBackground() throws {
        let folder = try TemporaryDirectory()
        let writer = try Self.walConnection(folder.storePath, thresholdPages: 250)
        let before = try Self.size(folder.storePath)
        // About 300 pages: past the threshold, short of twice it.
        try writer.inTransaction {
            try writer.executeEach("INSERT INTO filler VALUES (?)", 0..<300) { _ in [.blob(Data(repeating: 1, count: 3_500))] }
        }
        let deadline = Date().addingTimeInterval(TestTime.scaled(20))
        while try Self.size(folder.storePath) < before + 300 * 3_500, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        #expect(try Self.size(folder.storePath) >= before + 300 * 3_500)
        writer.close()
        #expect(!FileManager.default.fileExists(atPath: folder.storePath + "-wal"), "the writer closed last and removed the WAL")
    }

    /// Past twice the threshold the writer's commit waits for a checkpoint of everything, as SQLite's
    /// automatic checkpoint would: the WAL stays bounded while a checkpointer falls behind.
    @Test func aCommitFarPastTheThresholdCheckpointsBeforeItReturns() throws {
        let folder = try TemporaryDirectory()
        let writer = try Self.walConnection(folder.storePath, thresholdPages: 50)
        let before = try Self.size(folder.storePath)
        try writer.inTransaction {
            try writer.executeEach("INSERT INTO filler VALUES (?)", 0..<400) { _ in [.blob(Data(repeating: 2, count: 3_500))] }
        }
        #expect(try Self.size(folder.storePath) >= before + 400 * 3_500)
        writer.close()
    }

    private static func walConnection(_ path: String, thresholdPages: Int32) throws -> Connection {
        let connection = try Connection(path: path)
        try connection.applyEngineFileSettings(pageSize: 4_096)
        try connection.execute("CREATE TABLE filler (body BLOB)")
        try connection.checkpointInBackground(thresholdPages: thresholdPages)
        return connection
    }

    private static func size(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }
}
