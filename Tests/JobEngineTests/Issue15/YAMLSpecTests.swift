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
