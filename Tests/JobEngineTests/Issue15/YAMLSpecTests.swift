import Foundation
import Testing

@testable import JobEngine

/// Issue 15: YAML specs as well as JSON: the same fields, the same rules, every problem with its
/// line; YAML 1.2's scalars (the "Norway problem" of YAML 1.1 does not happen).
@Suite struct YAMLSpecTests {
    static let json = """
        {"name": "news", "concurrency": 4, "retry": {"max_attempts": 2, "mode": "recover", "backoff_ms": 200},
         "checkpoint": {"sync": "full"},
         "collector": {"type": "synthetic", "documents": 1000, "page_size": 50, "document_bytes": 512, "latency_ms": 2},
         "ingester": {"type": "jsonl", "path": "out/{item}.jsonl", "batch_size": 100},
         "items": [{"name": "q1", "params": {"query": "swift", "country": "NO", "since": "2026-12-01", "ratio": 0.5, "deep": true,
                                             "tags": ["a", "b"], "none": null}},
                   {"name": "q2"}],
         "faults": [{"item": "q2", "phase": "ingest", "at_document": 600, "times": 1, "message": "sink timed out"}]}
        """

    static let yaml = """
        # The same job as `json`, in YAML.
        name: news
        concurrency: 4
        retry: {max_attempts: 2, mode: recover, backoff_ms: 200}
        checkpoint:
          sync: full
        collector: &source
          type: synthetic
          documents: 1000
          page_size: 50
          document_bytes: 512
          latency_ms: 2
        ingester:
          type: jsonl
          path: "out/{item}.jsonl"
          batch_size: 100
        items:
          - name: q1
            params:
              query: swift
              country: NO        # a string, not false
              since: 2026-12-01  # a string, not a date
              ratio: 0.5
              deep: true
              tags: [a, b]
              none: ~
          - name: q2
        faults:
          - {item: q2, phase: ingest, at_document: 600, times: 1, message: sink timed out}
        """

    @Test func aYAMLSpecReadsAsTheSameJSONSpec() throws {
        let fromJSON = try JobSpec(json: Data(Self.json.utf8))
        let fromYAML = try JobSpec(yaml: Data(Self.yaml.utf8))
        #expect(fromYAML == fromJSON)
        #expect(fromYAML.items[0].params["country"] == .string("NO"))
        #expect(fromYAML.items[0].params["since"] == .string("2026-12-01"))
        // The same parameters, so the same fingerprints: a job may move from JSON to YAML without a restart.
        #expect(ParameterFingerprint.of(spec: fromYAML, item: fromYAML.items[0], baseDirectory: "/x")
            == ParameterFingerprint.of(spec: fromJSON, item: fromJSON.items[0], baseDirectory: "/x"))
    }

    @Test func everyProblemIsReportedWithItsLine() throws {
        let yaml = """
            name: news
            concurrency: lots
            retry:
              max_attempts: 0
              mode: again
            collector: {type: synthetic}
            ingester: {type: jsonl, path: "out/{item}.jsonl"}
            items:
              - name: a
              - params: {x: 1}
            """
        let error = try #require(throws: EngineError.self) { try JobSpec(yaml: Data(yaml.utf8)) }
        #expect(error.code == .invalidSpec)
        #expect(error.problems.map(\.description) == [
            "line 2: concurrency: must be a whole number, got a string",
            "line 4: retry.max_attempts: must be > 0",
            "line 5: retry.mode: must be one of \"restart\", \"recover\", got \"again\"",
            "line 10: items[1].name: missing",
        ], "\(error)")
    }

    @Test(arguments: [
        ("name: a\n  bad: [\n", "line 2: (root): not valid YAML"),
        ("name: a\nname: b\n", "line 1: name: appears twice in the mapping that starts on line 1"),
        ("", "(root): the YAML document is empty"),
        ("# only a comment\n", "(root): the YAML document is empty"),
        ("- a\n- b\n", "(root): "),
        ("name: a\nitems: *nowhere\n", "line 2: (root): not valid YAML: found undefined alias"),
    ])
    func malformedYAMLIsNamed(yaml: String, expected: String) throws {
        let error = try #require(throws: EngineError.self) { try JobSpec(yaml: Data(yaml.utf8)) }
        #expect(error.problems.contains { $0.description.hasPrefix(expected) }, "\(error)")
    }

    /// YAML 1.2 numbers: `010` is ten, `12:30` and `1_000` are text, `0x10` sixteen; infinity and NaN,
    /// which JSON cannot hold, are problems on their line.
    @Test func numbersAreYAML12sAndFinite() throws {
        func params(_ body: String) throws -> [String: JSONValue] {
            let spec = try JobSpec(yaml: Data("""
                name: n
                collector: {type: synthetic}
                ingester: {type: jsonl, path: "out/{item}.jsonl"}
                items:
                  - name: a
                    params: {\(body)}
                """.utf8))
            return spec.items[0].params
        }
        #expect(try params("a: 010, b: 12:30, c: 1_000, d: 0x10, e: 0o17, f: -2.5e3, g: .5, h: 7.") == [
            "a": .number(10), "b": .string("12:30"), "c": .string("1_000"), "d": .number(16), "e": .number(15),
            "f": .number(-2500), "g": .number(0.5), "h": .number(7),
        ])
        for bad in [".inf", "-.inf", ".nan", "1e400"] {
            let error = try #require(throws: EngineError.self) { try params("x: \(bad)") }
            #expect(error.problems.map(\.description) == ["line 6: items[0].params.x: \(bad) is not a finite number JSON can hold; write a finite number or quote it as text"], "\(error)")
        }
    }

    /// A component's problems (found after the spec's own fields) carry their line too, and a file
    /// whose aliases would expand past any spec's size is refused, not expanded.
    @Test func componentProblemsHaveLinesAndAliasBombsStop() throws {
        let folder = try TemporaryDirectory()
        let url = folder.url.appendingPathComponent("job.yaml")
        try Data("""
            name: n
            collector:
              type: synthetic
              page_size: 0
            ingester: {type: jsonl, path: "out/all.jsonl"}
            items: [{name: a}]
            """.utf8).write(to: url)
        let error = try #require(throws: EngineError.self) { try ComponentRegistry.builtIn.loadSpec(at: url) }
        #expect(error.problems.contains { $0.line == 4 && $0.field == "collector.page_size" }, "\(error)")
        #expect(error.problems.contains { $0.line == 5 && $0.field == "ingester.path" }, "\(error)")

        // Small here (a cap of 1,000 against 10^6 values), so the test does not spend the seconds a
        // real bomb against the real cap would: the walk stops at the cap either way.
        var bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...5 { bomb += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n" }
        bomb += "name: n\n"
        let refused = YAMLDocument(Data(bomb.utf8), maxNodes: 1_000)
        #expect(refused.problems.contains { $0.message.contains("more than 1000 values") }, "\(refused.problems)")
    }

    @Test func aSpecFileIsReadByItsExtension() throws {
        let folder = try TemporaryDirectory()
        try Data(Self.yaml.utf8).write(to: folder.url.appendingPathComponent("news.yml"))
        try Data(Self.json.utf8).write(to: folder.url.appendingPathComponent("news.json"))
        let registry = ComponentRegistry.builtIn
        #expect(try registry.loadSpec(at: folder.url.appendingPathComponent("news.yml"))
            == registry.loadSpec(at: folder.url.appendingPathComponent("news.json")))
        // YAML in a .json file is not JSON.
        try Data(Self.yaml.utf8).write(to: folder.url.appendingPathComponent("wrong.json"))
        #expect(throws: EngineError.self) { try registry.loadSpec(at: folder.url.appendingPathComponent("wrong.json")) }
    }
}
