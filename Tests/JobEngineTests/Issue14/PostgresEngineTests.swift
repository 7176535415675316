import Foundation
@testable import JobEnginePostgres
import Testing

@testable import JobEngine

/// The engine on a PostgreSQL store, end to end: the paths the SQLite store's tests walk (run,
/// a failure and its recover or restart, a cancel, the sinks holding each document once).
@Suite(.enabled(if: TestPostgres.url != nil || TestPostgres.required, TestPostgres.skipNote))
struct PostgresEngineTests {
    static func engine(hostID: String = "host-a", leaseSeconds: Double = 30) throws -> Engine {
        try Engine(postgres: TestPostgres.freshURL(), hostID: hostID, leaseSeconds: leaseSeconds, logger: quietLogger)
    }

    /// Both sinks that work with many hosts: `postgres` (rows and checkpoint in one transaction)
    /// and `sqlite` (upserts; one host's file).
    func expectSinkHoldsEachOnce(_ engine: Engine, sink: String, folder: TemporaryDirectory, items: [String], documents: Int) throws {
        if sink == "postgres" {
            try TestPostgres.expectSinkHoldsEachOnce(engine, items: items, documents: documents)
        } else {
            try JobEngineTests.expectSinkHoldsEachOnce(sink: sink, folder: folder, items: items, documents: documents)
        }
    }

    @Test(arguments: ["postgres", "sqlite"])
    func aJobRunsAndAnIngestFailureIsRecoveredWithoutCollectingAgain(sink: String) async throws {
        let folder = try TemporaryDirectory()
        let engine = try Self.engine()
        let spec = makeSpec(items: ["q1", "q2", "q3"], documents: 300, sink: sink,
                            faults: [FaultSpec(item: "q2", phase: .ingest, atDocument: 130, message: "sink timed out")])
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        let first = try await engine.run(jobID: job.id)
        let failed = try #require(first.items.first { $0.name == "q2" })
        #expect(failed.status == .failed && failed.lastError == "sink timed out" && failed.collected == 300 && failed.ingested == 120)
        #expect(first.items.filter { $0.status == .succeeded }.count == 2)
        #expect(try await engine.retry([failed.id], mode: .recover).total == 1)
        let second = try await engine.run(jobID: job.id)
        #expect(second.allSucceeded)
        #expect(second.items.first { $0.name == "q2" }?.collectedTotal == 300, "nothing collected again")
        try expectSinkHoldsEachOnce(engine, sink: sink, folder: folder, items: ["q1", "q2", "q3"], documents: 300)
        let events = try await engine.history(itemID: failed.id).map { "\($0.from?.rawValue ?? "-")>\($0.to.rawValue)" }
        #expect(events == ["->pending", "pending>running", "running>failed", "failed>pending", "pending>running", "running>succeeded"])
        await engine.shutdown()
    }

    /// `url_env`: the `postgres` sink writes into another database. Across two databases the rows
    /// are upserted before the checkpoint commits: a recover after an ingest failure and a restart
    /// (its reset deletes the item's rows there) still leave each document once, and a write under an
    /// older claim (a worker paused past its lease) neither replaces nor adds a row.
    @Test func aPostgresSinkInAnotherDatabaseHoldsEachDocumentOnceAndRefusesStaleClaims() async throws {
        let base = try #require(TestPostgres.url)
        let database = "sink_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let admin = PostgresSessions(try PostgresLocation(url: base), maximum: 1, logger: quietLogger)
        try admin.withSession { db in _ = try db.execute("CREATE DATABASE \(database)") }
        defer {
            _ = try? admin.withSession { db in try db.execute("DROP DATABASE \(database) WITH (FORCE)") }
            admin.close()
        }
        let sinkURL = base.replacingOccurrences(of: #"/[^/?]+(\?|$)"#, with: "/\(database)$1", options: .regularExpression)
        let variable = "JOBENGINE_TEST_SINK_" + database.uppercased()
        ProcessEnvironment.set(variable, sinkURL)
        let sinkDatabase = PostgresSessions(try PostgresLocation(url: sinkURL), maximum: 1, logger: quietLogger)
        defer { sinkDatabase.close() }

        let folder = try TemporaryDirectory()
        let engine = try Self.engine()
        var spec = makeSpec(items: ["q1", "q2", "q3"], documents: 300, sink: "postgres",
                            faults: [FaultSpec(item: "q2", phase: .ingest, atDocument: 130, message: "sink timed out"),
                                     FaultSpec(item: "q3", phase: .ingest, atDocument: 210, message: "sink timed out")])
        spec.ingester.options["url_env"] = .string(variable)
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        let first = try await engine.run(jobID: job.id)
        let q2 = try #require(first.items.first { $0.name == "q2" }), q3 = try #require(first.items.first { $0.name == "q3" })
        #expect(q2.status == .failed && q3.status == .failed && q2.ingested == 120 && q3.ingested == 200)
        #expect(try await engine.retry([q2.id], mode: .recover).total == 1)
        #expect(try await engine.retry([q3.id], mode: .restart).total == 1)
        #expect(try await engine.run(jobID: job.id).allSucceeded)

        func rows() throws -> [String: [Int]] {
            try sinkDatabase.withSession { db in
                try db.execute("SELECT item, seq FROM docs WHERE job = 'job' ORDER BY item, seq")
                    .reduce(into: [:]) { $0[$1.string("item") ?? "", default: []].append($1.int("seq")) }
            }
        }
        #expect(try rows() == ["q1": Array(0..<300), "q2": Array(0..<300), "q3": Array(0..<300)], "each document once, in the other database")
        let store = try #require(engine.store as? PostgresStore)
        #expect(try store.sessions.withSession { db in try db.execute("SELECT to_regclass('docs') IS NULL AS absent").first?.int("absent") } == 1,
                "nothing in the store's database")

        // A worker that claimed q1 before the claim that delivered it (fence 0) writes a batch late.
        let q1 = try #require(first.items.first { $0.name == "q1" })
        let itemID = q1.id.uuidString.lowercased()
        store.leases.withLock { $0[itemID] = ("paused-worker", 0) }
        let context = ItemContext(jobID: job.id, jobName: "job", itemID: q1.id, itemName: "q1", attempt: 1, params: [:],
                                  logger: quietLogger, stopCheck: { nil }, claimCheck: { _, _ in true })
        let late = [SequencedDocument(seq: 0, document: Document(key: "late", body: Data("{}".utf8))),
                    SequencedDocument(seq: 1000, document: Document(key: "late", body: Data("{}".utf8)))]
        #expect(throws: LeaseLost.self) {
            try store.upsertRows(Batch(item: context, documents: late), table: "docs", jobName: "job",
                                 into: store.sinkDatabase(try PostgresLocation(url: sinkURL)))
        }
        let keys = try sinkDatabase.withSession { db in
            try db.execute("SELECT key FROM docs WHERE job = 'job' AND item = 'q1' AND seq IN (0, 1000)").map { $0.string("key") ?? "" }
        }
        #expect(keys.count == 1 && keys != ["late"], "the later claim's row stays, and no row is added: \(keys)")
        await engine.shutdown()
    }

    /// A `url_env` that is no variable name is a spec error naming the field; one that is not set
    /// fails the items permanently, saying which variable to export.
    @Test func aPostgresSinkURLVariableThatIsBadOrUnsetIsNamed() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Self.engine()
        var spec = makeSpec(items: ["q1"], sink: "postgres")
        spec.ingester.options["url_env"] = "not-a-name"
        let refused = await #expect(throws: EngineError.self) { try await engine.submit(spec, baseDirectory: folder.url) }
        #expect(refused?.description.contains("ingester.url_env") == true && refused?.description.contains("environment variable") == true,
                "\(refused?.description ?? "")")
        spec.ingester.options["url_env"] = "JOBENGINE_TEST_NEVER_SET_SINK_URL"
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        let item = try #require(try await engine.run(jobID: job.id).items.first)
        #expect(item.status == .failed && item.errorKind == .permanent)
        #expect(item.lastError?.contains("JOBENGINE_TEST_NEVER_SET_SINK_URL (ingester.url_env) is not set") == true, "\(item.lastError ?? "")")
        await engine.shutdown()
    }

    /// Every other commit's answer lost: each claim, page, batch, finish and stop committed once
    /// unheard, then redone. The redos change nothing: each document once in the sink, counts and
    /// collected_total as without the fault, each transition once in the history.
    @Test func everyCommitRedoneAfterItsAnswerWasLostChangesNothing() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Self.engine()
        let store = try #require(engine.store as? PostgresStore)
        let spec = makeSpec(items: ["q1", "q2"], documents: 300, sink: "postgres",
                            faults: [FaultSpec(item: "q2", phase: .ingest, atDocument: 130, message: "sink timed out")], concurrency: 1)
        store.sessions.loseEveryOtherCommitAnswer.withLock { $0 = true }
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        let first = try await engine.run(jobID: job.id)
        let q2 = try #require(first.items.first { $0.name == "q2" })
        #expect(q2.status == .failed && q2.ingested == 120 && q2.collectedTotal == 300)
        #expect(try await engine.retry([q2.id], mode: .recover).total == 1)
        let second = try await engine.run(jobID: job.id)
        store.sessions.loseEveryOtherCommitAnswer.withLock { $0 = nil }
        #expect(second.allSucceeded)
        #expect(second.items.map(\.collectedTotal) == [300, 300], "nothing collected twice")
        try TestPostgres.expectSinkHoldsEachOnce(engine, items: ["q1", "q2"], documents: 300)
        let status = try #require(try await engine.jobStatus(job.id))
        #expect(status.counts == [.succeeded: 2] && status.collected == 600 && status.ingested == 600 && status.collectedTotal == 600)
        let history = try await engine.history(itemID: q2.id).map { "\($0.from?.rawValue ?? "-")>\($0.to.rawValue)" }
        #expect(history == ["->pending", "pending>running", "running>failed", "failed>pending", "pending>running", "running>succeeded"])
        await engine.shutdown()
    }

    /// A submit, a cancel and a retry whose COMMIT happened but whose answer was lost (the
    /// connection broke on the way back) run again: the redo answers what the first run did
    /// (created, counted, started), instead of what it finds after it (a known job, nothing left).
    @Test func aSubmitCancelAndRetryWhoseCommitAnswerIsLostAnswerWhatTheyDid() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Self.engine()
        let store = try #require(engine.store as? PostgresStore)
        store.sessions.lostCommitAnswers.withLock { $0 = 1 }
        let submitted = try await engine.submit(makeSpec(items: ["q1", "q2", "q3"], sink: "postgres"), baseDirectory: folder.url)
        #expect(store.sessions.lostCommitAnswers.withLock { $0 } == 0, "the fault fired")
        #expect(submitted.created && submitted.addedCount == 3 && submitted.job.specVersion == 1)
        #expect(try await engine.job("job")?.specVersion == 1, "submitted once")

        store.sessions.lostCommitAnswers.withLock { $0 = 1 }
        #expect(try await engine.cancel(jobID: submitted.job.id) == 3)
        let ids = try await engine.items(jobID: submitted.job.id).map(\.id)
        store.sessions.lostCommitAnswers.withLock { $0 = 1 }
        let retried = try await engine.retry(ids, mode: .restart)
        #expect(store.sessions.lostCommitAnswers.withLock { $0 } == 0, "the fault fired")
        #expect(retried.total == 3 && retried.skipped.isEmpty, "\(retried)")
        let history = try await engine.history(itemID: ids[0]).map { "\($0.from?.rawValue ?? "-")>\($0.to.rawValue)" }
        #expect(history == ["->pending", "pending>cancelled", "cancelled>pending"], "each transition once")
        await engine.shutdown()
    }

    @Test func aCollectFailureRecoversFromItsCursorAndARestartStartsOver() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Self.engine()
        let spec = makeSpec(documents: 500, pageSize: 50, sink: "postgres",
                            faults: [FaultSpec(item: "q1", phase: .collect, atDocument: 230, times: 2, message: "source down")])
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        let failed = try #require(try await engine.run(jobID: job.id).items.first)
        #expect(failed.status == .failed && failed.collected == 200)
        #expect(try await engine.retry([failed.id], mode: .restart).total == 1)
        let again = try #require(try await engine.run(jobID: job.id).items.first)
        #expect(again.status == .failed && again.collected == 200 && again.collectedTotal == 400, "restart collected from the start")
        #expect(again.notCollectedAgain == 0)
        #expect(try await engine.retry([failed.id], mode: .recover).total == 1)
        let done = try #require(try await engine.run(jobID: job.id).items.first)
        #expect(done.status == .succeeded && done.collectedTotal == 700, "recover went on from the cursor")
        #expect(done.notCollectedAgain == 200, "the recover resumed with the 200 the restart had staged")
        try TestPostgres.expectSinkHoldsEachOnce(engine, items: ["q1"], documents: 500)
        await engine.shutdown()
    }

    @Test func aSecondSubmitWithOtherParametersRestartsAQueuedRecover() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Self.engine()
        let spec = makeSpec(documents: 200, sink: "postgres", faults: [FaultSpec(item: "q1", phase: .ingest, atDocument: 100, message: "down")])
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        let failed = try #require(try await engine.run(jobID: job.id).items.first)
        #expect(try await engine.retry([failed.id], mode: .recover).total == 1)
        var changed = spec
        changed.items[0].params = ["query": .string("other")]
        let result = try await engine.submit(changed, baseDirectory: folder.url)
        #expect(result.changedItems == ["q1"] && result.job.specVersion == 2)
        let item = try #require(try await engine.run(jobID: job.id).items.first)
        #expect(item.status == .succeeded && item.parameters == ["query": .string("other")])
        #expect(item.collectedTotal == 400, "restarted from scratch instead of resuming under other parameters")
        #expect(item.notCollectedAgain == 0, "the claim restarted it: nothing was kept")
        try TestPostgres.expectSinkHoldsEachOnce(engine, items: ["q1"], documents: 200)
        await engine.shutdown()
    }

    /// The server ends the engine's connections (as a restart or a failover does) while items run:
    /// every store call waits and asks again, and the job finishes with each document once.
    @Test func connectionsEndedByTheServerMidRunAreWaitedOut() async throws {
        let folder = try TemporaryDirectory()
        let url = try TestPostgres.freshURL()
        let schema = try #require(url.components(separatedBy: "search_path=").last)
        let engine = try Engine(postgres: url, hostID: "host-a", logger: quietLogger)
        var spec = makeSpec(items: (0..<6).map { "q\($0)" }, documents: 300, pageSize: 10, batchSize: 10, sink: "postgres")
        spec.collector.options["latency_ms"] = 3
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        let handle = try await engine.start(jobID: job.id)
        let killer = try TestPostgres.freshStore(hostID: "killer")
        defer { killer.close() }
        var ended = 0
        for _ in 0..<4 {
            try await Task.sleep(for: .milliseconds(250))
            ended += try killer.sessions.withSession { db in
                try db.execute("""
                    SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE application_name = $1
                    """, [.text("jobengine:\(schema)")]).count
            }
        }
        let summary = try await handle.wait()
        #expect(ended > 0, "connections of the engine were ended")
        #expect(summary.allSucceeded, "\(summary.items.map { "\($0.name) \($0.status) \($0.lastError ?? "")" })")
        try TestPostgres.expectSinkHoldsEachOnce(engine, items: (0..<6).map { "q\($0)" }, documents: 300)
        await engine.shutdown()
    }

    /// A submit and a retry on one host wake a serving worker on another at once (NOTIFY in the
    /// transaction that queued the work), though that worker polls only every ten minutes (the
    /// waits allow for a slow machine: under ThreadSanitizer a run takes seconds).
    @Test func aSubmitAndARetryOnOneHostWakeAWorkerOnAnotherAtOnce() async throws {
        let folder = try TemporaryDirectory()
        let url = try TestPostgres.freshURL()
        let operatorEngine = try Engine(postgres: url, hostID: "host-a", logger: quietLogger)
        let workerEngine = try Engine(postgres: url, hostID: "host-b", logger: quietLogger)
        let worker = Worker(engine: workerEngine, pollInterval: .seconds(600), logger: quietLogger)
        let serving = Task { await worker.run() }
        defer { worker.stop() }
        // The worker's first look (at start) finds nothing; everything after comes from wake-ups
        // (host-a never runs anything: it only submits and retries).
        try await Task.sleep(for: .milliseconds(500))
        let spec = makeSpec(documents: 50, sink: "postgres", faults: [FaultSpec(item: "q1", phase: .ingest, atDocument: 10, message: "down")])
        let job = try await operatorEngine.submit(spec, baseDirectory: folder.url).job
        func status() async throws -> WorkItemStatus? { try await operatorEngine.items(jobID: job.id).first?.status }
        #expect(try await eventuallyAsync(seconds: 60) { try await status() == .failed }, "the worker on host-b ran the submitted job")
        let item = try #require(try await operatorEngine.items(jobID: job.id).first)
        #expect(try await operatorEngine.retry([item.id], mode: .recover).total == 1)
        #expect(try await eventuallyAsync(seconds: 60) { try await status() == .succeeded }, "the worker on host-b ran the retry")
        worker.stop()
        await serving.value
        await workerEngine.shutdown()
        await operatorEngine.shutdown()
    }

    @Test func aJSONLSinkIsRefusedWithTheSinkThatWorks() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Self.engine()
        let error = try await #require(throws: EngineError.self) { try await engine.submit(makeSpec(sink: "jsonl"), baseDirectory: folder.url) }
        #expect(error.problems.first?.field == "ingester.type" && error.problems.first?.message.contains("postgres sink") == true, "\(error)")
        #expect(try await engine.jobs().isEmpty, "nothing recorded")
        await engine.shutdown()
    }

    @Test func anItemsFileOfManyItemsIsSubmittedInStepsAndRefusedWholeOnABadLine() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Self.engine()
        let lines = (0..<6_000).map { #"{"name": "i\#($0)", "params": {"n": \#($0)}}"# }
        try (lines.joined(separator: "\n") + "\n").write(toFile: folder.path("items.jsonl"), atomically: true, encoding: .utf8)
        var spec = makeSpec(items: [], documents: 1, sink: "sqlite")
        spec.itemsFile = "items.jsonl"
        let result = try await engine.submit(spec, baseDirectory: folder.url)
        #expect(result.addedCount == 6_000 && result.created)
        #expect(try await engine.jobStatus(result.job.id)?.counts == [.pending: 6_000])
        // A second spec version with a duplicate line: refused, and nothing of it is written.
        try (lines + [#"{"name": "i7"}"#]).joined(separator: "\n").write(toFile: folder.path("items.jsonl"), atomically: true, encoding: .utf8)
        let error = try await #require(throws: EngineError.self) { try await engine.submit(spec, baseDirectory: folder.url) }
        #expect(error.problems.first?.message.contains("duplicate item name \"i7\"") == true, "\(error)")
        #expect(try await engine.job(result.job.id.uuidString)?.specVersion == 1)
        await engine.shutdown()
    }
}
