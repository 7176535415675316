import Foundation
import JobEngineTestSupport
import Testing

@testable import JobEngine

/// Issue 9, findings 4–9 in process: the paths operators hit every week.
@Suite(.limit(minutes: 1)) struct OperatorPathTests {
    @Test func finding4_aStoreReachedThroughASymlinkSharesItsOwnerLocks() async throws {
        let folder = try TemporaryDirectory()
        let gate = Gate()
        let (first, job, handle) = try await startStalled(in: folder, at: gate, leaseSeconds: 3600)
        let link = folder.path("link.sqlite")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: folder.storePath)
        // Opening through the link sweeps; the live engine's lock is found where the real file is.
        let second = try Engine(storePath: link, logger: quietLogger)
        let item = try #require(try await second.items(jobID: job.id).first)
        #expect(item.status == .running && item.leaseOwner == first.owner)
        second.close()
        gate.open()
        #expect(try await handle.wait().allSucceeded)
        first.close()
    }

    @Test func finding4_onlyALockActuallyTakenProvesAnOwnerDead() throws {
        let folder = try TemporaryDirectory()
        let owners = URL(fileURLWithPath: folder.path("owners"), isDirectory: true)
        try FileManager.default.createDirectory(at: owners, withIntermediateDirectories: true)
        #expect(OwnerLock.probe(owner: "host:1:missing", directory: owners) == .unknown)
        let live = try OwnerLock(owner: "host:2:alive", directory: owners)
        #expect(OwnerLock.probe(owner: "host:2:alive", directory: owners) == .alive)
        live.release(removingFile: false)
        #expect(OwnerLock.probe(owner: "host:2:alive", directory: owners) == .dead)
        // The proof stays until a sweep has used it (removeStale), so a sweep that fails can be repeated.
        #expect(OwnerLock.probe(owner: "host:2:alive", directory: owners) == .dead)
        #expect(OwnerLock.removeStale(in: owners) == 1)
        #expect(OwnerLock.probe(owner: "host:2:alive", directory: owners) == .unknown)
    }

    @Test func finding4_aReadOnlyEngineWritesNothingAndNeverSweeps() async throws {
        let folder = try TemporaryDirectory()
        let gate = Gate()
        let (first, job, handle) = try await startStalled(in: folder, at: gate, leaseSeconds: 3600)
        // Make the live engine look dead to a sweep: no lock file at all.
        let owners = folder.storePath + ".owners"
        let reader = try Engine(storePath: folder.storePath, access: .readOnly, logger: quietLogger)
        #expect(try FileManager.default.contentsOfDirectory(atPath: owners).count == 1)  // no lock of its own
        #expect(try await reader.items(jobID: job.id).first?.status == .running)
        await #expect(throws: EngineError.self) { try await reader.retry([], mode: .recover) }
        reader.close()
        gate.open()
        #expect(try await handle.wait().allSucceeded)
        first.close()
    }

    @Test func finding4_aLiveWorkerOnThisHostKeepsItsItemsEvenWithAnExpiredLease() async throws {
        let folder = try TemporaryDirectory()
        let gate = Gate()
        let (first, job, handle) = try await startStalled(in: folder, at: gate, leaseSeconds: 3600)
        // What a long write lock held by another process does: no heartbeat could land.
        try query(folder.storePath, "UPDATE work_items SET lease_expires_at = 1")
        let second = try Engine(storePath: folder.storePath, logger: quietLogger)
        #expect(try second.sweep().isEmpty)
        #expect(try await second.items(jobID: job.id).first?.status == .running)
        second.close()
        gate.open()
        #expect(try await handle.wait().allSucceeded)
        first.close()
    }

    @Test func finding5_aCrashContinuationNeverReopensACancelledJob() async throws {
        let folder = try TemporaryDirectory()
        let gate = Gate()
        let (dying, job, _) = try await startStalled(in: folder, at: gate, leaseSeconds: 3600)
        let survivor = try secondWorker(on: folder)
        let run = Task { try await survivor.run(jobID: job.id) }
        try await Task.sleep(for: .milliseconds(200))
        try await survivor.cancel(jobID: job.id)
        dying.close()
        let item = try #require(try await run.value.items.first)
        #expect(item.status == .failed && item.errorKind == .interrupted)
        #expect(try await survivor.job(job.id.uuidString)?.cancelled == true)
        gate.open()
        await survivor.shutdown()
    }

    @Test func finding5_anAutomaticRetryNeverUndoesACancel() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let gate = Gate()
        engine.register(collector: "fails-after-gate") { _, _ in GateThenFailCollector(gate: gate) }
        var spec = makeSpec(items: ["a"], maxAttempts: 3)
        spec.collector = ComponentSpec(type: "fails-after-gate")
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        let run = Task { try await engine.run(jobID: job.id) }
        try await gate.waitUntilReached()
        try await engine.cancel(jobID: job.id)
        gate.open()  // the running item now fails transiently: its retry policy would allow two more attempts
        let item = try #require(try await run.value.items.first)
        #expect(item.status == .failed && item.attempt == 1)
        #expect(try await engine.job(job.id.uuidString)?.cancelled == true)
        #expect(try await engine.history(itemID: item.id).allSatisfy { $0.to != .pending || $0.from == nil })
        // A manual retry still re-opens it.
        #expect(try await engine.retry([item.id], mode: .recover).total == 1)
        #expect(try await engine.job(job.id.uuidString)?.cancelled == false)
        await engine.shutdown()
    }

    @Test func finding6_aServingWorkerTakesOverTheItemsOfAWorkerThatDied() async throws {
        let folder = try TemporaryDirectory()
        let gate = Gate()
        let (dying, job, _) = try await startStalled(in: folder, at: gate, leaseSeconds: 3600)
        let server = try secondWorker(on: folder)
        let worker = Worker(engine: server, pollInterval: .milliseconds(100))
        let serving = Task { await worker.run() }
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await server.items(jobID: job.id).first?.status == .running)  // alive: left alone
        dying.close()  // what kill -9 leaves: the item running, its owner's lock free
        #expect(try await eventually { try server.store.items(jobID: job.id).first?.status == .succeeded })
        worker.stop()
        await serving.value
        await server.shutdown()
        gate.open()
        try expectSinkHoldsEachOnce(sink: "jsonl", folder: folder, items: ["a"], documents: 100)
    }

    @Test func finding7_submitInCodeValidatesExactlyAsASpecFile() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        var spec = makeSpec()
        spec.retry.maxAttempts = 0
        spec.faults = [FaultSpec(item: "q1", phase: .ingest, atDocument: -1, times: 0)]
        let error = try await #require(throws: EngineError.self) { try await engine.submit(spec, baseDirectory: folder.url) }
        #expect(Set(error.problems.map(\.field)) == ["retry.max_attempts", "faults[0].at_document", "faults[0].times"])
        #expect(try await engine.jobs().isEmpty)
        await engine.shutdown()
    }

    @Test func finding7_aStoredSpecThatCannotBeReadBreaksOnlyItsOwnJob() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        for name in ["good", "strict", "broken"] {
            var spec = makeSpec(name: name)
            spec.ingester.options["path"] = "out/{job}/{item}.jsonl"  // a sink file belongs to one job
            _ = try await engine.submit(spec, baseDirectory: folder.url)
        }
        // What an older engine, or a hand edit, can leave: a value today's rules refuse, and a spec
        // that is not a spec at all.
        try query(folder.storePath, """
            UPDATE jobs SET spec_json = replace(spec_json, '"max_attempts":1', '"max_attempts":0'),
            settings_json = replace(settings_json, '"max_attempts":1', '"max_attempts":0') WHERE name = 'strict'
            """)
        try query(folder.storePath, "UPDATE jobs SET spec_json = '[1]', settings_json = '{\"name\": 7}' WHERE name = 'broken'")
        let statuses = try await engine.jobStatuses()
        #expect(statuses.map(\.job.name) == ["good", "strict", "broken"])
        #expect(statuses.map { $0.job.specError == nil } == [true, true, false])
        let broken = try #require(statuses.last?.job)
        let error = await #expect(throws: EngineError.self) { try await engine.run(jobID: broken.id) }
        #expect(error?.message.contains("submit its spec again") == true)
        let strict = try #require(statuses.dropFirst().first?.job)
        #expect(try await engine.run(jobID: strict.id).allSucceeded)
        await engine.shutdown()
    }

    @Test func finding8_aLineWithoutEndFailsPermanentlyInsteadOfReadingForEver() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        for (name, limit) in [("bounded", 65_536), ("default", nil)] as [(String, Int?)] {
            var spec = makeSpec(name: name)
            spec.ingester.options["path"] = "out/{job}/{item}.jsonl"
            spec.collector = ComponentSpec(type: "jsonl", options: ["path": "/dev/zero"])
            if let limit { spec.collector.options["max_line_bytes"] = .number(Double(limit)) }
            let job = try await engine.submit(spec, baseDirectory: folder.url).job
            let item = try #require(try await engine.run(jobID: job.id).items.first)
            #expect(item.status == .failed && item.errorKind == .permanent)
            #expect(item.lastError?.contains("longer than max_line_bytes (\(limit ?? 16_777_216) bytes)") == true,
                    "\(item.lastError ?? "")")
        }
        await engine.shutdown()
    }

    @Test func finding8_aStopAbandonsACollectorCallThatNeverReturns() async throws {
        let folder = try TemporaryDirectory()
        let fifo = folder.path("in.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let engine = try Engine(storePath: folder.storePath, stopGraceSeconds: 0.5, logger: quietLogger)
        var spec = makeSpec(items: ["reader"])
        spec.collector = ComponentSpec(type: "jsonl", options: ["path": .string(fifo)])
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        let handle = try await engine.start(jobID: job.id)
        // Opening a FIFO nobody writes blocks for ever.
        #expect(try await eventually { try engine.store.items(jobID: job.id).first?.status == .running })
        try await Task.sleep(for: .milliseconds(100))
        await engine.shutdown()
        let summary = try await handle.wait()
        let item = try #require(summary.items.first)
        #expect(item.status == .failed && item.errorKind == .interrupted)
        #expect(item.lastError?.contains("did not return within") == true, "\(item.lastError ?? "")")
        // Let the abandoned thread go.
        let writer = open(fifo, O_WRONLY | O_NONBLOCK)
        if writer >= 0 { close(writer) }
    }

    @Test func finding9_aConcurrencyAboveDispatchsThreadPoolIsHonoured() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let probe = ConcurrencyProbe(expected: 400)
        engine.register(collector: "probe") { _, _ in ProbeCollector(probe: probe) }
        var spec = makeSpec(items: (0..<400).map { "i\($0)" }, concurrency: 400)
        spec.collector = ComponentSpec(type: "probe")
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        #expect(try await engine.run(jobID: job.id).allSucceeded)
        #expect(probe.maximum == 400)
        await engine.shutdown()
    }

    @Test func finding10_aRunWaitingForAnotherWorkersItemsFinishesThemWhenThatWorkerDies() async throws {
        let folder = try TemporaryDirectory()
        let gate = Gate()
        let (dying, job, _) = try await startStalled(in: folder, at: gate, leaseSeconds: 3600)
        let survivor = try secondWorker(on: folder)
        let run = Task { try await survivor.run(jobID: job.id) }
        try await Task.sleep(for: .milliseconds(300))
        dying.close()
        let summary = try await run.value
        #expect(summary.allSucceeded, "\(summary.items.map { "\($0.status) \($0.lastError ?? "")" })")
        try expectSinkHoldsEachOnce(sink: "jsonl", folder: folder, items: ["a"], documents: 100)
        gate.open()
        await survivor.shutdown()
    }
}

/// Waits at a gate on its first page, then fails transiently.
struct GateThenFailCollector: Collector {
    let gate: Gate

    func page(after cursor: String?, for item: ItemContext) throws -> Page {
        gate.pass()
        throw PhaseError.transient("source timed out")
    }
}

/// Another engine on the store with the gated components, every gate open: the worker that takes
/// over, or waits for, the stalled one's items.
func secondWorker(on folder: TemporaryDirectory) throws -> Engine {
    let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
    registerGated(on: engine, collectGate: Gate(opened: true), ingestGate: Gate(opened: true), stallItem: [:])
    return engine
}
