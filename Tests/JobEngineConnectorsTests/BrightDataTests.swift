import Foundation
import JobEngineTestSupport
import JobEngine
import Testing

@testable import JobEngineConnectors

/// The `brightdata` collector against a fake of the vendor on loopback: a snapshot is triggered
/// once per attempt chain, whatever fails and however often it is recovered.
@Suite struct BrightDataTests {
    static let dataset = "gd_test"

    static func spec(_ baseURL: String, items: [String], batchSize: Int = 10, pageSize: Int = 4, pollSeconds: Double = 0.05,
                     extra: String = "") throws -> JobSpec {
        let list = items.map { #"{"name": "\#($0)", "params": {"url": "https://shop.example/\#($0)"}}"# }.joined(separator: ", ")
        return try JobSpec(json: Data("""
            {"name": "vendor", "concurrency": 2,
             "collector": {"type": "brightdata", "dataset_id": "\(dataset)", "token_env": "\(TestToken.variable)",
                           "base_url": "\(baseURL)", "poll_seconds": \(pollSeconds), "batch_size": \(batchSize), "page_size": \(pageSize),
                           "options": {"include_errors": true}\(extra)},
             "ingester": {"type": "jsonl", "path": "out/{item}.jsonl", "batch_size": 3},
             "items": [\(list)]}
            """.utf8))
    }

    static func expected(_ vendor: FakeBrightData, item: String) -> [String] {
        vendor.records([.object(["url": .string("https://shop.example/\(item)")])])
    }

    @Test func aSnapshotIsTriggeredPolledAndDownloadedInParts() async throws {
        let folder = try TemporaryFolder()
        let vendor = FakeBrightData(.init(token: TestToken.value, recordsPerInput: 23, pollsBeforeReady: 2, partsBuilding: 1))
        try await vendor.serve { base in
            let engine = try connectorEngine(folder)
            let job = try await engine.submit(Self.spec(base, items: ["a", "b"]), baseDirectory: folder.url).job
            let summary = try await engine.run(jobID: job.id)
            #expect(summary.allSucceeded, "\(summary.items.map { "\($0.name): \($0.lastError ?? "")" })")
            #expect(summary.items.allSatisfy { $0.progressNote == nil }, "a finished item shows no note")
            for item in ["a", "b"] {
                #expect(sinkData(folder.path("out/\(item).jsonl")) == Self.expected(vendor, item: item))
            }
            #expect(vendor.triggers(Self.dataset) == 2)
            // 23 records in parts of 10: three parts, each downloaded once per item.
            #expect(vendor.partRequests == [1: 2, 2: 2, 3: 2])
            #expect(vendor.downloadFormats == ["jsonl/10"], "every download call used the same format and batch_size")
            await engine.shutdown()
        }
    }

    @Test(arguments: ["jsonl", "sqlite"])
    func recoverAfterAFailedPartDownloadsFromThatPartAndNeverTriggersAgain(sink: String) async throws {
        let folder = try TemporaryFolder()
        let vendor = FakeBrightData(.init(token: TestToken.value, recordsPerInput: 50, failPart: [3: 1]))
        try await vendor.serve { base in
            let engine = try connectorEngine(folder)
            var spec = try Self.spec(base, items: ["a"])
            if sink == "sqlite" {
                spec.ingester = ComponentSpec(type: "sqlite", options: ["path": .string("sink.sqlite"), "batch_size": .number(3)])
            }
            let job = try await engine.submit(spec, baseDirectory: folder.url).job
            let first = try await engine.run(jobID: job.id)
            let item = try #require(first.items.first)
            #expect(item.status == .failed && item.errorKind == .transient, "\(item.lastError ?? "")")
            #expect(item.lastError?.contains("part 3 of 5") == true, "\(item.lastError ?? "")")
            #expect(item.collected == 20, "parts 1 and 2 were staged before part 3 failed")
            #expect(try await engine.retry([item.id], mode: .recover).total == 1)
            let second = try await engine.run(jobID: job.id)
            #expect(second.allSucceeded)
            #expect(vendor.triggers(Self.dataset) == 1, "recover never triggers")
            #expect(vendor.partRequests == [1: 1, 2: 1, 3: 2, 4: 1, 5: 1], "recover downloads again from part 3 only")
            if sink == "sqlite" {
                let rows = try sqliteColumn(folder.path("sink.sqlite"), "SELECT data FROM documents ORDER BY seq")
                #expect(rows == Self.expected(vendor, item: "a"), "each document once")
            } else {
                #expect(sinkData(folder.path("out/a.jsonl")) == Self.expected(vendor, item: "a"), "each document once")
            }
            await engine.shutdown()
        }
    }

    @Test func aConnectionDroppedMidPartIsTransientAndRecoverFinishesIt() async throws {
        let folder = try TemporaryFolder()
        let vendor = FakeBrightData(.init(token: TestToken.value, recordsPerInput: 30, dropPart: [2: 1]))
        try await vendor.serve { base in
            let engine = try connectorEngine(folder)
            let job = try await engine.submit(Self.spec(base, items: ["a"]), baseDirectory: folder.url).job
            let item = try #require(try await engine.run(jobID: job.id).items.first)
            #expect(item.status == .failed && item.errorKind == .transient, "\(item.lastError ?? "")")
            _ = try await engine.retry([item.id], mode: .recover)
            #expect(try await engine.run(jobID: job.id).allSucceeded)
            #expect(vendor.triggers(Self.dataset) == 1)
            #expect(sinkData(folder.path("out/a.jsonl")) == Self.expected(vendor, item: "a"))
            await engine.shutdown()
        }
    }

    @Test func recoverAfterAPollFailureDoesNotTrigger() async throws {
        let folder = try TemporaryFolder()
        let vendor = FakeBrightData(.init(token: TestToken.value, recordsPerInput: 5, pollsBeforeReady: 3, failProgress: 0))
        try await vendor.serve { base in
            let engine = try connectorEngine(folder)
            let job = try await engine.submit(Self.spec(base, items: ["a"]), baseDirectory: folder.url).job
            vendor.set { $0.failProgress = 1 }
            let item = try #require(try await engine.run(jobID: job.id).items.first)
            #expect(item.status == .failed && item.errorKind == .transient)
            #expect(item.lastError?.contains("progress") == true, "\(item.lastError ?? "")")
            _ = try await engine.retry([item.id], mode: .recover)
            #expect(try await engine.run(jobID: job.id).allSucceeded)
            #expect(vendor.triggers(Self.dataset) == 1, "recover polls the checkpointed snapshot")
            #expect(sinkData(folder.path("out/a.jsonl")) == Self.expected(vendor, item: "a"))
            await engine.shutdown()
        }
    }

    /// Items whose inputs are alike (here the spec's own `inputs`, shared by every item): a lookup
    /// after a trigger that never answered finds the other item's snapshot, and must not adopt it;
    /// nor may a restart's lookup adopt the snapshot of the attempt chain before it.
    @Test func aLookupNeverAdoptsAnotherItemsSnapshotOrAnEarlierAttempts() async throws {
        let folder = try TemporaryFolder()
        let vendor = FakeBrightData(.init(token: TestToken.value, recordsPerInput: 5))
        try await vendor.serve { base in
            let engine = try connectorEngine(folder)
            func spec(_ job: String) throws -> JobSpec {
                try JobSpec(json: Data("""
                    {"name": "\(job)", "retry": {"max_attempts": 1},
                     "collector": {"type": "brightdata", "dataset_id": "\(Self.dataset)", "token_env": "\(TestToken.variable)",
                                   "base_url": "\(base)", "poll_seconds": 0.05, "max_attempts": 1,
                                   "inputs": [{"url": "https://shop.example/shared"}]},
                     "ingester": {"type": "jsonl", "path": "out-\(job)/{item}.jsonl", "batch_size": 3},
                     "items": [{"name": "a"}]}
                    """.utf8))
            }
            let expected = vendor.records([.object(["url": .string("https://shop.example/shared")])])
            let first = try await engine.submit(spec("first"), baseDirectory: folder.url).job
            vendor.set { $0.failPart = [1: 1] }
            let item = try #require(try await engine.run(jobID: first.id).items.first)
            #expect(item.status == .failed && vendor.triggers(Self.dataset) == 1, "\(item.lastError ?? "")")

            // A restart checkpoints a new intent; its trigger is refused (no snapshot made). Its
            // recover's lookup finds the earlier attempt chain's snapshot (same item, same inputs,
            // made seconds ago) and must not adopt it.
            _ = try await engine.retry([item.id], mode: .restart)
            vendor.set { $0.trigger429 = 1 }
            #expect(try await engine.run(jobID: first.id).items.first?.status == .failed)
            #expect(vendor.triggers(Self.dataset) == 1)
            _ = try await engine.retry([item.id], mode: .recover)
            #expect(try await engine.run(jobID: first.id).allSucceeded)
            #expect(vendor.triggers(Self.dataset) == 2, "the restart triggered a snapshot of its own")
            #expect(sinkData(folder.path("out-first/a.jsonl")) == expected)

            // Another job's item with the same inputs, its trigger refused: the lookup finds both
            // snapshots above, both the first job's item's, and triggers its own.
            let second = try await engine.submit(spec("second"), baseDirectory: folder.url).job
            vendor.set { $0.trigger429 = 1 }
            let refused = try #require(try await engine.run(jobID: second.id).items.first)
            #expect(refused.status == .failed && refused.errorKind == .transient, "\(refused.lastError ?? "")")
            _ = try await engine.retry([refused.id], mode: .recover)
            #expect(try await engine.run(jobID: second.id).allSucceeded)
            #expect(vendor.triggers(Self.dataset) == 3, "the other item's snapshots are not adopted")
            #expect(sinkData(folder.path("out-second/a.jsonl")) == expected)
            await engine.shutdown()
        }
    }

    @Test func restartTriggersExactlyOnceMore() async throws {
        let folder = try TemporaryFolder()
        let vendor = FakeBrightData(.init(token: TestToken.value, recordsPerInput: 12, failPart: [2: 1]))
        try await vendor.serve { base in
            let engine = try connectorEngine(folder)
            let job = try await engine.submit(Self.spec(base, items: ["a"]), baseDirectory: folder.url).job
            let item = try #require(try await engine.run(jobID: job.id).items.first)
            #expect(item.status == .failed)
            _ = try await engine.retry([item.id], mode: .restart)
            #expect(try await engine.run(jobID: job.id).allSucceeded)
            #expect(vendor.triggers(Self.dataset) == 2, "restart triggers a new snapshot, once")
            #expect(sinkData(folder.path("out/a.jsonl")) == Self.expected(vendor, item: "a"), "the restarted item's sink starts over")
            await engine.shutdown()
        }
    }

    @Test func anExpiredOrFailedSnapshotFailsPermanentlyWithTheVendorsReason() async throws {
        let folder = try TemporaryFolder()
        let vendor = FakeBrightData(.init(token: TestToken.value, recordsPerInput: 12, failPart: [2: 1]))
        try await vendor.serve { base in
            let engine = try connectorEngine(folder)
            var spec = try Self.spec(base, items: ["a", "b"])
            spec.retry.maxAttempts = 3
            spec.retry.backoffMilliseconds = 0
            vendor.set { $0.failPart = [2: 2] }
            let job = try await engine.submit(spec, baseDirectory: folder.url).job
            // The part fails twice per item chain at most; then the snapshot expires before any recover.
            vendor.set { $0.expired = true }
            let summary = try await engine.run(jobID: job.id)
            for item in summary.items {
                #expect(item.status == .failed && item.errorKind == .permanent, "\(item.lastError ?? "")")
                #expect(item.lastError?.contains("Snapshot is expired") == true, "\(item.lastError ?? "")")
                #expect(item.attempt == 1, "a permanent failure is not retried automatically")
            }
            #expect(vendor.triggers(Self.dataset) == 2)
            await engine.shutdown()
        }
        let failed = FakeBrightData(.init(token: TestToken.value, snapshotFails: "inputs were not valid URLs"))
        let other = try TemporaryFolder()
        try await failed.serve { base in
            let engine = try connectorEngine(other)
            let job = try await engine.submit(Self.spec(base, items: ["a"]), baseDirectory: other.url).job
            let item = try #require(try await engine.run(jobID: job.id).items.first)
            #expect(item.errorKind == .permanent && item.lastError?.contains("inputs were not valid URLs") == true, "\(item.lastError ?? "")")
            await engine.shutdown()
        }
    }

    @Test func tooManyRequestsIsWaitedOutAsTheVendorAsks() async throws {
        let folder = try TemporaryFolder()
        let vendor = FakeBrightData(.init(token: TestToken.value, recordsPerInput: 3, trigger429: 2, retryAfter: "0"))
        try await vendor.serve { base in
            let engine = try connectorEngine(folder)
            let job = try await engine.submit(Self.spec(base, items: ["a"]), baseDirectory: folder.url).job
            #expect(try await engine.run(jobID: job.id).allSucceeded)
            #expect(vendor.triggers(Self.dataset) == 1)
            // Without Retry-After the collector backs off; more 429s than `max_attempts` fail the item as transient.
            vendor.set { $0.trigger429 = 5; $0.retryAfter = nil }
            let again = try await engine.submit(Self.spec(base, items: ["b"], extra: #", "max_attempts": 2, "backoff_seconds": 0.05"#),
                                                baseDirectory: folder.url).job
            let item = try #require(try await engine.run(jobID: again.id).items.first { $0.name == "b" })
            #expect(item.status == .failed && item.errorKind == .transient && item.lastError?.contains("HTTP 429 2 times") == true,
                    "\(item.lastError ?? "")")
            await engine.shutdown()
        }
        #expect(RetryAfter.seconds("120") == 120)
        let now = Date(timeIntervalSince1970: 1_000_000_000)
        #expect(RetryAfter.seconds("Sun, 09 Sep 2001 01:47:00 GMT", now: now) == 20)
        #expect(RetryAfter.seconds("soon") == nil && RetryAfter.seconds(nil) == nil)
    }

    @Test func theTokenIsNeverStoredLoggedOrShownInAnError() async throws {
        let folder = try TemporaryFolder()
        let log = CapturedLog()
        // The vendor expects another token: it refuses, and its refusal echoes what it was sent.
        let vendor = FakeBrightData(.init(token: "another", recordsPerInput: 3))
        try await vendor.serve { base in
            let engine = try connectorEngine(folder, log: log)
            let job = try await engine.submit(Self.spec(base, items: ["a"]), baseDirectory: folder.url).job
            let item = try #require(try await engine.run(jobID: job.id).items.first)
            #expect(item.status == .failed && item.errorKind == .permanent && item.lastError?.contains("HTTP 401") == true,
                    "\(item.lastError ?? "")")
            #expect(item.lastError?.contains(TestToken.value) == false)
            vendor.set { $0.token = TestToken.value }
            _ = try await engine.retry([item.id], mode: .recover)
            #expect(try await engine.run(jobID: job.id).allSucceeded)
            engine.close()
        }
        for file in try FileManager.default.contentsOfDirectory(atPath: folder.url.path) where file.hasPrefix("engine.sqlite") {
            let bytes = (try? Data(contentsOf: folder.url.appendingPathComponent(file))) ?? Data()
            #expect(bytes.range(of: Data(TestToken.value.utf8)) == nil, "\(file) holds the token")
        }
        #expect(!log.text.isEmpty && !log.text.contains(TestToken.value))
    }

    @Test(arguments: [false, true])
    func cancelEndsTheWaitForTheSnapshotAtOnce(cancelAtVendor: Bool) async throws {
        let folder = try TemporaryFolder()
        let vendor = FakeBrightData(.init(token: TestToken.value, pollsBeforeReady: 1_000_000))
        try await vendor.serve { base in
            let engine = try connectorEngine(folder)
            let option = cancelAtVendor ? #", "cancel_snapshot_on_cancel": true"# : ""
            let job = try await engine.submit(Self.spec(base, items: ["a"], pollSeconds: 600, extra: option), baseDirectory: folder.url).job
            let handle = try await engine.start(jobID: job.id)
            let deadline = Date().addingTimeInterval(TestTime.scaled(30))
            while vendor.progressCalls == 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(vendor.progressCalls == 1, "the collector polled once and now waits 600 s")
            // The poll's page is checkpointed before the wait for the next: the item shows where it stands.
            let expected = "collecting: snapshot s_\(Self.dataset)_1 running, 0 min"
            let shown = Date().addingTimeInterval(TestTime.scaled(30))
            var note: String?
            while note != expected && Date() < shown {
                note = try await engine.items(jobID: job.id).first?.progressNote
                if note != expected { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(note == expected, "\(note ?? "no note")")
            let cancelled = ContinuousClock.now
            _ = try await engine.cancel(jobID: job.id)
            let summary = try await handle.wait()
            #expect(ContinuousClock.now - cancelled < .seconds(5), "the wait ended at the cancel, not after poll_seconds")
            #expect(summary.items.first?.status == .cancelled)
            #expect(vendor.triggers(Self.dataset) == 1)
            #expect(vendor.cancelled == (cancelAtVendor ? ["s_\(Self.dataset)_1"] : []), "the vendor's snapshot is cancelled only when the spec asks")
            await engine.shutdown()
        }
    }

    @Test func limitsHoldAcrossItemsAndJobs() async throws {
        let folder = try TemporaryFolder()
        let vendor = FakeBrightData(.init(token: TestToken.value, recordsPerInput: 2, pollsBeforeReady: 0, requestDelay: 0.05))
        try await vendor.serve { base in
            let engine = try connectorEngine(folder)
            let limits = #", "limits": {"concurrency": 1}"#
            // Two jobs of four items, eight at once: one request at a time reaches the vendor.
            var jobs: [UUID] = []
            for name in ["one", "two"] {
                var spec = try Self.spec(base, items: ["\(name)-a", "\(name)-b", "\(name)-c", "\(name)-d"], extra: limits)
                spec.name = name
                spec.concurrency = 4
                jobs.append(try await engine.submit(spec, baseDirectory: folder.url).job.id)
            }
            let summaries = try await engine.run(jobIDs: jobs)
            #expect(summaries.allSatisfy { $0.allSucceeded })
            #expect(vendor.mostConcurrentRequests == 1, "concurrency 1 for the dataset, whatever the jobs' concurrency")
            #expect(vendor.triggers(Self.dataset) == 8)
            await engine.shutdown()
        }
        let paced = FakeBrightData(.init(token: TestToken.value, recordsPerInput: 2, pollsBeforeReady: 0))
        let other = try TemporaryFolder()
        try await paced.serve { base in
            let engine = try connectorEngine(other)
            var spec = try Self.spec(base, items: ["a", "b", "c"], extra: #", "limits": {"requests_per_second": 10}"#)
            spec.concurrency = 3
            let job = try await engine.submit(spec, baseDirectory: other.url).job
            #expect(try await engine.run(jobID: job.id).allSucceeded)
            // Three items of four requests each (trigger, progress, parts, one part): at 10 per second
            // after the first, the twelve leave over at least 1.1 s; unlimited they take milliseconds. They
            // are timed on arrival, where the first can be late by its connection's setup (0.98 s seen).
            let arrivals = paced.arrivals.sorted()
            #expect(arrivals.count == 12)
            if let first = arrivals.first, let last = arrivals.last {
                #expect(last.timeIntervalSince(first) >= 0.9, "\(last.timeIntervalSince(first)) s for \(arrivals.count) requests")
            }
            await engine.shutdown()
        }
    }

    @Test func aShutdownEndsTheWaitButLeavesTheSnapshotRunningForRecover() async throws {
        let folder = try TemporaryFolder()
        let vendor = FakeBrightData(.init(token: TestToken.value, pollsBeforeReady: 1_000_000))
        try await vendor.serve { base in
            let engine = try connectorEngine(folder)
            let spec = try Self.spec(base, items: ["a"], pollSeconds: 600, extra: #", "cancel_snapshot_on_cancel": true"#)
            let job = try await engine.submit(spec, baseDirectory: folder.url).job
            let handle = try await engine.start(jobID: job.id)
            let deadline = Date().addingTimeInterval(TestTime.scaled(30))
            while vendor.progressCalls == 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            await engine.shutdown()
            let item = try #require(try await handle.wait().items.first)
            #expect(item.status == .failed && item.errorKind == .interrupted, "\(item.status) \(item.lastError ?? "")")
            #expect(vendor.cancelled.isEmpty, "a shutdown is not a cancel: recover goes on with the snapshot")
        }
    }

    @Test func snapshotInputsCompareAlikeAsJSONOrCSV() {
        let inputs: [JSONValue] = [
            .object(["url": .string("https://shop.example/a,b"), "keyword": .string("espresso \"machine\"\nnew"), "n": .number(5)]),
            .object(["url": .string("https://shop.example/c"), "flag": .bool(true), "empty": .null]),
        ]
        let csv = "empty,flag,keyword,n,url\r\n,,\"espresso \"\"machine\"\"\nnew\",5,\"https://shop.example/a,b\"\r\n,true,,,https://shop.example/c\r\n"
        #expect(SnapshotInputs.digest(answer: Data(csv.utf8)) == SnapshotInputs.digest(inputs))
        #expect(SnapshotInputs.digest(answer: JSONValue.array(inputs).canonicalJSON()) == SnapshotInputs.digest(inputs))
        #expect(SnapshotInputs.digest(answer: Data("url\nhttps://other.example\n".utf8)) != SnapshotInputs.digest(inputs))
        #expect(CSV.rows("a,\"b") == nil, "an unterminated quote is not CSV")
    }

    @Test func badOptionsAreRefusedByNameBeforeAnythingRuns() async throws {
        let folder = try TemporaryFolder()
        let engine = try connectorEngine(folder)
        let spec = try JobSpec(json: Data("""
            {"name": "bad", "collector": {"type": "brightdata", "dataset_id": "", "token_env": "1BAD", "base_url": "ftp://x",
             "format": "csv", "poll_seconds": -1, "options": {"nested": {}}, "limits": {"concurrency": -2}, "colour": "red"},
             "ingester": {"type": "jsonl", "path": "out/{item}.jsonl"}, "items": [{"name": "a"}]}
            """.utf8))
        let error = await #expect(throws: EngineError.self) { try await engine.submit(spec, baseDirectory: folder.url) }
        let fields = Set(error?.problems.map(\.field) ?? [])
        #expect(fields == ["collector.dataset_id", "collector.token_env", "collector.base_url", "collector.format", "collector.poll_seconds",
                           "collector.options", "collector.limits.concurrency", "collector.colour"], "\(error?.problems ?? [])")
        #expect(try await engine.jobs().isEmpty, "nothing was written")
        await engine.shutdown()
    }
}

/// A real `engine-run` process, SIGKILLed after the vendor took the trigger and before the
/// collector could checkpoint the snapshot id: `resume` finds the snapshot instead of paying for
/// another.
@Suite struct BrightDataCrashTests {
    @Test(arguments: [false, true])
    func aKillBetweenTheTriggerAndItsCheckpointIsRecoveredWithoutTriggeringAgain(inputAsCSV: Bool) async throws {
        let folder = try TemporaryFolder()
        let vendor = FakeBrightData(.init(token: TestToken.value, recordsPerInput: 25, triggerAnswerDelay: 5, inputAsCSV: inputAsCSV))
        try await vendor.serve { base in
            let spec = try BrightDataTests.spec(base, items: ["a"])
            try Data(spec.jsonValue.canonicalJSON()).write(to: folder.url.appendingPathComponent("spec.json"))
            let environment = [TestToken.variable: TestToken.value]
            let first = try EngineRun.start(["run", "spec.json", "--db", "engine.sqlite"], in: folder, environment: environment)
            let deadline = Date().addingTimeInterval(TestTime.scaled(60))
            while vendor.triggers(BrightDataTests.dataset) == 0 && first.process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
            try #require(vendor.triggers(BrightDataTests.dataset) == 1,
                         "the vendor took no trigger: \((try? String(contentsOf: first.stderrURL, encoding: .utf8)) ?? "")")
            await first.killAndWait()
            vendor.set { $0.triggerAnswerDelay = 0 }
            let resumed = try await EngineRun.run(["resume", "--db", "engine.sqlite", "--quiet"], in: folder, environment: environment)
            #expect(resumed.code == 0, "\(resumed.stderr)")
            #expect(vendor.triggers(BrightDataTests.dataset) == 1, "resume found the snapshot; it did not pay for another")
            #expect(sinkData(folder.path("out/a.jsonl")) == BrightDataTests.expected(vendor, item: "a"))
        }
    }
}
