import Foundation
import Testing

/// Issue 10: what engine-run prints from the store cannot forge lines or rewrite the terminal, and
/// a read-only store is still readable.
@Suite struct ReadableOutputTests {
    static let spec = """
        {"name": "plain", "collector": {"type": "synthetic", "documents": 10},
         "ingester": {"type": "jsonl", "path": "out/{item}.jsonl"}, "items": [{"name": "a"}]}
        """

    @Test func finding5_namesAStoreHoldsArePrintedEscaped() async throws {
        let folder = try Folder()
        try folder.write("spec.json", Self.spec)
        #expect(try await CLI.run(["run", "spec.json", "--quiet"], in: folder.url).code == 0)
        // What an earlier engine accepted: an escape sequence and a newline in names.
        _ = try sqlite(folder.path("engine.sqlite"), "UPDATE jobs SET name = 'a' || char(10) || 'b' || char(27) || '[31mred'")
        _ = try sqlite(folder.path("engine.sqlite"), "UPDATE work_items SET name = 'x' || char(0) || 'y'")
        for command in [["status"], ["items"]] {
            let output = try await CLI.run(command, in: folder.url)
            #expect(output.code == 0, "\(output.stderr)")
            #expect(!output.stdout.contains("\u{1B}"), "\(command): an escape sequence reached the terminal")
            #expect(output.stdout.contains(#"a\u{A}b\u{1B}[31mred"#), "\(command): \(output.stdout)")
        }
        #expect(try await CLI.run(["items"], in: folder.url).stdout.contains(#"x\u{0}y"#))
    }

    @Test func readingCommandsWorkOnAReadOnlyStore() async throws {
        let folder = try Folder()
        try folder.write("spec.json", Self.spec)
        #expect(try await CLI.run(["run", "spec.json", "--quiet"], in: folder.url).code == 0)
        let store = folder.path("engine.sqlite")
        try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: store)
        for command in [["status"], ["items", "--json"]] {
            let output = try await CLI.run(command, in: folder.url)
            #expect(output.code == 0, "\(command): \(output.stderr)")
        }
        let write = try await CLI.run(["cancel", "plain"], in: folder.url)
        #expect(write.code == 2 && write.stderr.contains("read-only"), "\(write.stderr)")
    }
}
