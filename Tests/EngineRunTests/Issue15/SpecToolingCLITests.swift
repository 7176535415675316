import Foundation
import Testing

/// Issue 15's spec tooling as an operator meets it: `init` writes a commented starter spec that
/// runs as it is, `check` validates JSON and YAML without opening any store, and the shell
/// completions ArgumentParser generates.
@Suite struct SpecToolingCLITests {
    @Test func initWritesAStarterThatChecksAndRuns() async throws {
        let folder = try Folder()
        let written = try await CLI.run(["init"], in: folder.url)
        #expect(written.code == 0 && written.stdout.contains("wrote job.yaml"), "\(written.stderr)")
        let starter = try String(contentsOfFile: folder.path("job.yaml"), encoding: .utf8)
        #expect(starter.split(separator: "\n").filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix("#") }.count >= 10,
                "the starter explains its fields")

        // Never over a file that exists.
        try folder.write("job.yaml", "name: mine\n")
        let again = try await CLI.run(["init"], in: folder.url)
        #expect(again.code == 2 && again.stderr.contains("job.yaml exists"), "\(again.stderr)")
        #expect(try String(contentsOfFile: folder.path("job.yaml"), encoding: .utf8) == "name: mine\n")
        try folder.write("job.yaml", starter)

        let checked = try await CLI.run(["check", "job.yaml"], in: folder.url)
        #expect(checked.code == 0 && checked.stdout.contains("ok: job.yaml is a valid job spec: job my-first-job, 2 items"),
                "\(checked.stdout)\(checked.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.path("engine.sqlite")), "check opened no store")

        let run = try await CLI.run(["run", "job.yaml", "--quiet"], in: folder.url)
        #expect(run.code == 0, "\(run.stdout)\(run.stderr)")
        #expect(try jsonlSeqs(folder.path("out/first.jsonl")) == Array(0..<500))
    }

    @Test func checkPrintsEveryProblemWithItsLineAndChangesNothing() async throws {
        let folder = try Folder()
        try folder.write("bad.yaml", """
            name: bad
            concurrency: 0
            retry: {mode: again}
            collector: {type: synthetic}
            ingester: {type: jsonl, path: "out/{item}.jsonl"}
            items:
              - name: a
              - params: {x: 1}
            """)
        let yaml = try await CLI.run(["check", "bad.yaml"], in: folder.url)
        #expect(yaml.code == 2)
        for expected in ["line 2: concurrency: must be > 0", "line 3: retry.mode: must be one of", "line 8: items[1].name: missing"] {
            #expect(yaml.stderr.contains(expected), "\(expected) in \(yaml.stderr)")
        }
        try folder.write("bad.json", #"{"name": "bad", "collector": {"type": "nope"}, "ingester": {"type": "jsonl", "path": "x.jsonl"}, "items": [{"name": "a"}]}"#)
        let json = try await CLI.run(["check", "bad.json"], in: folder.url)
        #expect(json.code == 2 && json.stderr.contains("collector.type") && json.stderr.contains("ingester.path: must contain {item}"),
                "\(json.stderr)")
        let missing = try await CLI.run(["check", "nowhere.yaml"], in: folder.url)
        #expect(missing.code == 2 && missing.stderr.contains("nowhere.yaml"), "\(missing.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.url.path).filter { $0.hasPrefix("engine.sqlite") }.isEmpty,
                "check created no store")
    }

    /// `check` reads the items file as a submit would, and knows the store's files are not a sink's.
    @Test func checkReadsTheItemsFileAndProtectsTheStore() async throws {
        let folder = try Folder()
        try folder.write("items.jsonl", "{\"name\": \"a\"}\n{\"name\": \"b\"}\n{\"name\": \"a\"}\n{\"params\": {}}\n")
        try folder.write("job.yaml", """
            name: n
            collector: {type: synthetic, documents: 10}
            ingester: {type: jsonl, path: "out/{item}.jsonl"}
            items_file: items.jsonl
            """)
        let duplicates = try await CLI.run(["check", "job.yaml"], in: folder.url)
        #expect(duplicates.code == 2, "\(duplicates.stdout)")
        #expect(duplicates.stderr.contains("items_file line 3.name: duplicate item name \"a\" (also line 1)"), "\(duplicates.stderr)")
        #expect(duplicates.stderr.contains("items_file line 4"), "\(duplicates.stderr)")
        try folder.write("items.jsonl", "{\"name\": \"a\"}\n{\"name\": \"b\"}\n")
        let good = try await CLI.run(["check", "job.yaml"], in: folder.url)
        #expect(good.code == 0 && good.stdout.contains("2 items"), "\(good.stdout)\(good.stderr)")
        try FileManager.default.removeItem(atPath: folder.path("items.jsonl"))
        let missing = try await CLI.run(["check", "job.yaml"], in: folder.url)
        #expect(missing.code == 2 && missing.stderr.contains("items_file"), "\(missing.stderr)")

        try folder.write("sink.yaml", """
            name: s
            collector: {type: synthetic, documents: 10}
            ingester: {type: sqlite, path: engine.sqlite, table: docs}
            items: [{name: a}]
            """)
        let intoStore = try await CLI.run(["check", "sink.yaml"], in: folder.url)
        #expect(intoStore.code == 2 && intoStore.stderr.contains("store"), "\(intoStore.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.path("engine.sqlite")))
    }

    @Test(arguments: ["bash", "zsh", "fish"])
    func shellCompletionsNameTheCommands(shell: String) async throws {
        let folder = try Folder()
        let script = try await CLI.run(["--generate-completion-script", shell], in: folder.url)
        #expect(script.code == 0)
        for command in ["retry", "check", "init", "serve"] {
            #expect(script.stdout.contains(command), "\(shell) completion lacks \(command)")
        }
    }
}
