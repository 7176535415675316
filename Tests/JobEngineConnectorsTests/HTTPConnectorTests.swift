import Foundation
import JobEngineTestSupport
import JobEngine
import Testing

@testable import JobEngineConnectors

/// The `http` collector and ingester against a paged API and a receiver on loopback.
@Suite struct HTTPConnectorTests {
    static func collectorSpec(_ base: String, next: String, extra: String = "", ingester: String? = nil) throws -> JobSpec {
        try JobSpec(json: Data("""
            {"name": "api", "collector": {"type": "http", "url": "\(base)/items?q={query}", "records": "data.items", "key": "id",
                                          \(next)\(extra)},
             "ingester": \(ingester ?? #"{"type": "jsonl", "path": "out/{item}.jsonl", "batch_size": 7}"#),
             "items": [{"name": "a", "params": {"query": "shoes & socks"}}]}
            """.utf8))
    }

    static func expected(_ count: Int) -> [String] {
        (0..<count).map { #"{"id":"r\#($0)","n":\#($0)}"# }
    }

    @Test(arguments: [
        #""next": "link""#,
        #""next": "field", "next_field": "meta.next_cursor", "next_param": "cursor""#,
        #""next": "field", "next_field": "meta.next_url""#,
        #""next": "page", "next_param": "page""#,
        #""next": "offset", "next_param": "offset""#,
    ])
    func everyKindOfNextPageIsFollowedToTheEnd(next: String) async throws {
        let folder = try TemporaryFolder()
        let api = FakeAPI(.init(records: 25, perPage: 10))
        try await api.serve { base in
            let engine = try connectorEngine(folder)
            let job = try await engine.submit(Self.collectorSpec(base, next: next), baseDirectory: folder.url).job
            let summary = try await engine.run(jobID: job.id)
            #expect(summary.allSucceeded, "\(summary.items.map { $0.lastError ?? "" })")
            #expect(sinkData(folder.path("out/a.jsonl")) == Self.expected(25))
            // Page and offset modes ask once more and stop at the empty page (offset 25 is in the
            // fake's page 3); the others stop at the last.
            let pages = next.contains("\"page\"") ? [1: 1, 2: 1, 3: 1, 4: 1] : next.contains("\"offset\"") ? [1: 1, 2: 1, 3: 2] : [1: 1, 2: 1, 3: 1]
            #expect(api.pageRequests == pages)
            await engine.shutdown()
        }
    }

    /// An outage at page 3: `recover` asks page 3 again and nothing before it; `restart` starts
    /// over from page 1 with the sink emptied. Either way each document is in the sink once.
    @Test(arguments: TestSink.allCases, [RetryMode.recover, .restart])
    func anOutageMidwayFailsTheItemAndRecoverFetchesFromThePageThatFailed(sink: TestSink, mode: RetryMode) async throws {
        let folder = try TemporaryFolder()
        let api = FakeAPI(.init(records: 40, perPage: 10, failPage: [3: 1], tooMany: 1))
        try await api.serve { base in
            let engine = try connectorEngine(folder)
            let spec = try Self.collectorSpec(base, next: #""next": "link""#, ingester: sink.spec(batchSize: 7))
            let job = try await engine.submit(spec, baseDirectory: folder.url).job
            let item = try #require(try await engine.run(jobID: job.id).items.first)
            #expect(item.status == .failed && item.errorKind == .transient && item.lastError?.contains("HTTP 500") == true,
                    "\(item.lastError ?? "")")
            #expect(item.collected == 20)
            _ = try await engine.retry([item.id], mode: mode)
            #expect(try await engine.run(jobID: job.id).allSucceeded)
            if mode == .recover {
                #expect(api.pageRequests == [1: 1, 2: 1, 3: 2, 4: 1], "recover asked page 3 again, nothing before it (the 429 was waited out)")
            } else {
                #expect(api.pageRequests == [1: 2, 2: 2, 3: 2, 4: 1], "restart starts from the first page")
            }
            #expect(try sink.delivered(folder, item: "a") == Self.expected(40), "each document once")
            await engine.shutdown()
        }
    }

    @Test func aClientErrorIsPermanentAndSecretHeadersComeFromTheEnvironment() async throws {
        let folder = try TemporaryFolder()
        let api = FakeAPI(.init(records: 5, apiKey: TestToken.value))
        try await api.serve { base in
            let engine = try connectorEngine(folder)
            var spec = try Self.collectorSpec(base, next: #""next": "link""#, extra: #", "headers": {"X-Api-Key": {"env": "JOBENGINE_TEST_UNSET_VARIABLE"}}"#)
            spec.retry.maxAttempts = 3
            let job = try await engine.submit(spec, baseDirectory: folder.url).job
            let unset = try #require(try await engine.run(jobID: job.id).items.first)
            #expect(unset.errorKind == .permanent && unset.lastError?.contains("JOBENGINE_TEST_UNSET_VARIABLE") == true, "\(unset.lastError ?? "")")
            spec = try Self.collectorSpec(base, next: #""next": "link""#, extra: #", "headers": {"X-Api-Key": "wrong"}"#)
            spec.retry.maxAttempts = 3
            _ = try await engine.submit(spec, baseDirectory: folder.url)
            _ = try await engine.retry([unset.id], mode: .restart)
            let refused = try #require(try await engine.run(jobID: job.id).items.first)
            #expect(refused.errorKind == .permanent && refused.attempt == 2 && refused.lastError?.contains("HTTP 401") == true,
                    "a 401 is not retried automatically: \(refused.lastError ?? "")")
            spec = try Self.collectorSpec(base, next: #""next": "link""#, extra: #", "headers": {"X-Api-Key": {"env": "\#(TestToken.variable)"}}"#)
            _ = try await engine.submit(spec, baseDirectory: folder.url)
            _ = try await engine.retry([unset.id], mode: .restart)
            #expect(try await engine.run(jobID: job.id).allSucceeded)
            #expect(sinkData(folder.path("out/a.jsonl")) == Self.expected(5))
            engine.close()
        }
        let store = try Data(contentsOf: folder.url.appendingPathComponent("engine.sqlite"))
        #expect(store.range(of: Data(TestToken.value.utf8)) == nil, "the store holds the variable's name, never its value")
    }

    @Test func theHTTPSinkSendsEachBatchWithItsIdempotencyKeyAndWaitsOutUnavailability() async throws {
        let folder = try TemporaryFolder()
        let api = FakeAPI(.init(records: 0, ingestUnavailable: 1))
        try await api.serve { base in
            let engine = try connectorEngine(folder)
            for format in ["json", "ndjson"] {
                var spec = try JobSpec(json: Data("""
                    {"name": "push-\(format)", "collector": {"type": "synthetic", "documents": 23, "page_size": 5, "document_bytes": 60},
                     "ingester": {"type": "http", "url": "\(base)/ingest", "format": "\(format)", "batch_size": 10, "backoff_seconds": 0.01},
                     "items": [{"name": "a"}, {"name": "b"}]}
                    """.utf8))
                spec.concurrency = 2
                let job = try await engine.submit(spec, baseDirectory: folder.url).job
                #expect(try await engine.run(jobID: job.id).allSucceeded)
            }
            let accepted = api.accepted
            #expect(accepted.count == 92, "23 documents × 2 items × 2 jobs")
            for item in ["a", "b"] {
                let seqs = accepted.filter { $0["item"]?.stringValue == item }.compactMap { value -> Int? in
                    if case .number(let seq)? = value["seq"] { return Int(seq) }
                    return nil
                }
                #expect(seqs.sorted() == (0..<23).flatMap { [$0, $0] }, "each document once per job")
            }
            #expect(api.replays == 0)
            await engine.shutdown()
        }
    }
}

extension HTTPConnectorTests {
    @Test func aNextPageParameterKeepsTheOtherParametersEncodingAsItWas() {
        #expect(URLTemplate.setting("cursor", to: "a+b/c=", in: "https://x.example/items?q=c%2B%2B&cursor=old")
                == "https://x.example/items?q=c%2B%2B&cursor=a%2Bb%2Fc%3D")
        #expect(URLTemplate.value(of: "cursor", in: "https://x.example/items?q=c%2B%2B&cursor=a%2Bb%2Fc%3D") == "a+b/c=")
    }

    @Test func aRestartThatCollectedOtherDocumentsSendsThemUnderNewKeys() async throws {
        let folder = try TemporaryFolder()
        let api = FakeAPI(.init(records: 0, ingestFailures: [10: 1]))
        try await api.serve { base in
            let engine = try connectorEngine(folder)
            func spec(_ name: String, bytes: Int) throws -> JobSpec {
                try JobSpec(json: Data("""
                    {"name": "\(name)", "collector": {"type": "synthetic", "documents": 20, "page_size": 5, "document_bytes": \(bytes)},
                     "ingester": {"type": "http", "url": "\(base)/ingest", "batch_size": 10, "max_attempts": 1}, "items": [{"name": "a"}]}
                    """.utf8))
            }
            // The second batch fails; a restart collects the same documents: the first batch's key
            // is the one the receiver has, and it drops it.
            let same = try await engine.submit(spec("same", bytes: 60), baseDirectory: folder.url).job
            let first = try #require(try await engine.run(jobID: same.id).items.first)
            #expect(first.status == .failed && api.accepted.count == 10)
            _ = try await engine.retry([first.id], mode: .restart)
            #expect(try await engine.run(jobID: same.id).allSucceeded)
            #expect(api.accepted.count == 20 && api.replays == 1, "\(api.accepted.count) accepted, \(api.replays) replays")
            // The same, but the parameters changed before the restart: other documents, new keys, taken.
            api.set { $0.ingestFailures = [10: 1] }
            let changed = try await engine.submit(spec("changed", bytes: 60), baseDirectory: folder.url).job
            let second = try #require(try await engine.run(jobID: changed.id).items.first)
            #expect(second.status == .failed && api.accepted.count == 30)
            _ = try await engine.submit(spec("changed", bytes: 90), baseDirectory: folder.url)
            _ = try await engine.retry([second.id], mode: .restart)
            #expect(try await engine.run(jobID: changed.id).allSucceeded)
            #expect(api.accepted.count == 50 && api.replays == 1, "\(api.accepted.count) accepted, \(api.replays) replays")
            await engine.shutdown()
        }
    }

    /// A receiver that rejects a batch's data (422) fails the item permanently: not retried
    /// automatically, whatever `retry.max_attempts` allows; the batches before it stay delivered.
    @Test func aBatchTheReceiverRejectsIsAPermanentFailure() async throws {
        let folder = try TemporaryFolder()
        let api = FakeAPI(.init(records: 0, ingestRejects: 20))
        try await api.serve { base in
            let engine = try connectorEngine(folder)
            let spec = try JobSpec(json: Data("""
                {"name": "push", "retry": {"max_attempts": 3, "backoff_ms": 0},
                 "collector": {"type": "synthetic", "documents": 35, "page_size": 5, "document_bytes": 60},
                 "ingester": {"type": "http", "url": "\(base)/ingest", "batch_size": 10},
                 "items": [{"name": "a"}]}
                """.utf8))
            let job = try await engine.submit(spec, baseDirectory: folder.url).job
            let failed = try #require(try await engine.run(jobID: job.id).items.first)
            #expect(failed.status == .failed && failed.errorKind == .permanent && failed.attempt == 1 && failed.ingested == 20,
                    "\(failed.lastError ?? "")")
            #expect(failed.lastError?.contains("422") == true && failed.lastError?.contains("price is not a number") == true,
                    "the receiver's reason is shown: \(failed.lastError ?? "")")
            #expect(api.accepted.count == 20)
            await engine.shutdown()
        }
    }

    @Test func aReceiverOutageFailsTheItemAndRecoverDeliversTheRestOnce() async throws {
        let folder = try TemporaryFolder()
        let api = FakeAPI(.init(records: 0, ingestFailures: [10: 1]))
        try await api.serve { base in
            let engine = try connectorEngine(folder)
            let spec = try JobSpec(json: Data("""
                {"name": "push", "collector": {"type": "synthetic", "documents": 35, "page_size": 5, "document_bytes": 60},
                 "ingester": {"type": "http", "url": "\(base)/ingest", "batch_size": 10, "max_attempts": 1},
                 "items": [{"name": "a"}]}
                """.utf8))
            let job = try await engine.submit(spec, baseDirectory: folder.url).job
            let failed = try #require(try await engine.run(jobID: job.id).items.first)
            #expect(failed.status == .failed && failed.errorKind == .transient && failed.ingested == 10, "\(failed.lastError ?? "")")
            _ = try await engine.retry([failed.id], mode: .recover)
            #expect(try await engine.run(jobID: job.id).allSucceeded)
            let seqs = api.accepted.compactMap { value -> Int? in
                if case .number(let seq)? = value["seq"] { return Int(seq) }
                return nil
            }
            #expect(seqs == Array(0..<35) && api.replays == 0, "every document once, nothing collected again")
            await engine.shutdown()
        }
    }
}

/// A real `engine-run` killed after a batch reached the receiver and before its checkpoint:
/// `resume` delivers that batch again with the same key, and the receiver drops it.
@Suite struct HTTPSinkCrashTests {
    @Test func aKillBetweenDeliveryAndCheckpointIsReplayedWithTheSameKey() async throws {
        let folder = try TemporaryFolder()
        let api = FakeAPI(.init(records: 0))
        try await api.serve { base in
            let spec = """
                {"name": "push", "collector": {"type": "synthetic", "documents": 30, "page_size": 10, "document_bytes": 60},
                 "ingester": {"type": "http", "url": "\(base)/ingest", "batch_size": 10},
                 "items": [{"name": "a"}],
                 "faults": [{"item": "a", "phase": "ingest", "at_document": 15, "times": 1, "stall_ms": 30000}]}
                """
            try Data(spec.utf8).write(to: folder.url.appendingPathComponent("spec.json"))
            let first = try EngineRun.start(["run", "spec.json", "--db", "engine.sqlite"], in: folder, environment: [:])
            let deadline = Date().addingTimeInterval(TestTime.scaled(60))
            while api.accepted.count < 20 && first.process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
            try #require(api.accepted.count == 20, "the second batch reached the receiver and stalls before its checkpoint")
            await first.killAndWait()
            let resumed = try await EngineRun.run(["resume", "--db", "engine.sqlite", "--quiet"], in: folder, environment: [:])
            #expect(resumed.code == 0, "\(resumed.stderr)")
            #expect(api.replays == 1, "the batch in the window was sent again, with the key it had")
            let seqs = api.accepted.compactMap { value -> Int? in
                if case .number(let seq)? = value["seq"] { return Int(seq) }
                return nil
            }
            #expect(seqs == Array(0..<30), "every document delivered, none accepted twice")
        }
    }
}
