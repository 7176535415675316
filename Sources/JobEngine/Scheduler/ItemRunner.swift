import Foundation
import Logging

/// Why a running item stops before it is done.
enum StopReason: Sendable {
    /// The engine shuts down: the item is left `failed` with kind `interrupted`, recoverable.
    case shutdown
    /// The job was cancelled: the item becomes `cancelled`.
    case cancelled
}

struct StopRequested: Error {
    let reason: StopReason
}

/// Runs one claimed item: collect to the end, then ingest, checkpointing each page and batch
/// (invariant 1), and records how it ended. Runs on one worker thread.
///
/// Lock contention on the store (another process holding SQLite's write lock past the busy
/// timeout) is waited out with a back-off: it never fails an item by itself. Any other store
/// failure (a full disk, an I/O error) fails the item as transient with a message that says so.
/// How the item ended is retried until the store takes it; when it will not (the engine is
/// stopping, or the disk stays full), the item leaves this engine's running set, so its lease is no
/// longer renewed and a sweep marks it interrupted once it expires (invariant 8).
struct ItemRunner {
    let store: any JobStore
    let registry: ComponentRegistry
    let job: Job
    let owner: String
    let running: RunningItems
    let logger: Logger
    let emit: @Sendable (EngineEvent) -> Void
    let metrics: EngineMetrics
    /// Shared by the engine's items: what they may keep in memory of what they collected.
    let collectedBudget: MemoryBudget
    /// Whether the job was cancelled through this engine after the given instant.
    let cancelledSince: @Sendable (ContinuousClock.Instant) -> Bool
    /// Checked before each page and batch.
    let stopReason: @Sendable () -> StopReason?

    func run(_ claim: ClaimedItem) {
        let item = claim.item
        let itemID = item.id.uuidString.lowercased()
        let started = ContinuousClock.now
        // Why a wait inside a collector or sink ends: the shutdown, or a cancel of the job here.
        let waitStop: @Sendable () -> StopReason? = { [stopReason, cancelledSince] in
            stopReason() ?? (cancelledSince(started) ? .cancelled : nil)
        }
        var logger = logger
        logger[metadataKey: "job"] = "\(job.name)"
        logger[metadataKey: "item"] = "\(itemID)"
        logger[metadataKey: "attempt"] = "\(item.attempt)"
        let context = ItemContext(jobID: job.id, jobName: job.name, itemID: item.id, itemName: item.name,
                                  attempt: item.attempt, params: item.parameters, logger: logger,
                                  stopCheck: waitStop, claimCheck: { [self] resource, token in
                                      try persist { try store.claimWork(resource, token: token, itemID: itemID, owner: owner) }
                                  })
        logger.info("work item started", metadata: ["phase": "\(item.phase.rawValue)", "mode": "\(item.retryMode?.rawValue ?? "first run")"])
        if claim.restartedForChangedParameters {
            logger.notice("work item restarts: \(Store.restartedForChangedParameters)")
        }
        emit(.itemStarted(item))

        var ingester: (any Ingester)?
        defer { ingester?.finish(for: context) }
        do {
            let baseDirectory = URL(fileURLWithPath: job.baseDirectory, isDirectory: true)
            let sink = try registry.makeIngester(job.spec, baseDirectory: baseDirectory, item: context)
            ingester = sink
            if claim.needsSinkReset {
                try sink.reset(for: context)
                try persist { try store.clearSinkReset(itemID: itemID, owner: owner) }
            }
            var collected = item.collected
            var tail = CollectedTail(startingAt: item.collected, budget: collectedBudget)
            if item.phase == .collect {
                let collector = try registry.makeCollector(job.spec, baseDirectory: baseDirectory, item: context)
                collected = try collect(with: collector, from: claim.collectCursor, seq: item.collected, keeping: &tail,
                                        context: context)
            }
            // An item still collecting has delivered nothing, so this is (0, nil) for it.
            let finished = try ingest(into: sink, from: item.ingested, upTo: collected, sinkOffset: claim.sinkOffset,
                                      tail: tail, context: context)
                ?? persist { try store.finish(itemID: itemID, owner: owner, sync: job.spec.checkpoint.sync) }
            logger.info("work item succeeded", metadata: ["collected_total": "\(finished.collectedTotal)"])
            emit(.itemStopped(finished))
        } catch let lost as LeaseLost {
            logger.warning("work item stopped: \(lost)")
        } catch let stop as StopRequested {
            recordStop(stop.reason, itemID: itemID, logger: logger)
        } catch is WaitStopped {
            recordStop(waitStop() ?? .shutdown, itemID: itemID, logger: logger)
        } catch {
            let kind = (error as? PhaseError)?.kind ?? .transient
            let policy = job.spec.retry.policy
            let retry = policy.shouldRetry(afterAttempt: claim.automaticAttempts, kind: kind)
                ? (mode: job.spec.retry.mode, notBefore: Date().timeIntervalSince1970 + policy.delay(afterAttempt: claim.automaticAttempts))
                : nil
            logger.error("work item failed: \(error)", metadata: ["error_kind": "\(kind.rawValue)", "retrying": "\(retry != nil)"])
            record(itemID: itemID, as: .init(status: .failed, error: "\(error)", kind: kind), logger: logger) {
                try store.stop(itemID: itemID, owner: owner, as: .failed, error: "\(error)", kind: kind, retry: retry,
                               sync: job.spec.checkpoint.sync)
            }
        }
    }

    /// Records an item stopped by a cancel (`cancelled`) or the engine's shutdown (`failed`,
    /// interrupted, recoverable).
    private func recordStop(_ reason: StopReason, itemID: String, logger: Logger) {
        let status: WorkItemStatus = reason == .cancelled ? .cancelled : .failed
        let error = reason == .cancelled ? "job cancelled" : "engine shut down"
        let kind: ErrorKind? = reason == .cancelled ? nil : .interrupted
        record(itemID: itemID, as: .init(status: status, error: error, kind: kind), logger: logger) {
            try store.stop(itemID: itemID, owner: owner, as: status, error: error, kind: kind, retry: nil,
                           sync: job.spec.checkpoint.sync)
        }
    }

    /// Runs a store write, waiting out lock contention (or an unreachable PostgreSQL server) with a
    /// back-off for as long as it lasts, unless the engine is asked to stop meanwhile. Other SQLite
    /// failures become a `StoreWriteFailure`, which says what went wrong with the store.
    private func persist<T>(_ write: () throws -> T) throws -> T {
        var backoff = Backoff()
        var waited = false
        while true {
            do {
                return try write()
            } catch where error.storeFailurePasses {
                if let reason = stopReason() { throw StopRequested(reason: reason) }
                if !waited {
                    logger.notice(error is StoreUnreachable ? "\(error); waiting for it" : "the store is locked by another process; waiting for it")
                    waited = true
                }
                backoff.sleep()
            } catch let error as SQLiteError {
                throw StoreWriteFailure(underlying: error)
            }
        }
    }

    /// Records how the item ended, trying again until the store takes it. Gives up only when the
    /// lease was lost (the item is another worker's), the store is closed, the engine is stopping
    /// (a second try failed too) or a failure other than contention repeats five times; then the
    /// outcome is kept in memory for the run's summary, and the item's lease runs out.
    private func record(itemID: String, as outcome: RunningItems.Unrecorded, logger: Logger, _ write: () throws -> WorkItem) {
        var backoff = Backoff()
        var failures = 0
        while true {
            do {
                emit(.itemStopped(try write()))
                return
            } catch let lost as LeaseLost {
                logger.warning("work item stopped: \(lost)")
                return
            } catch {
                failures += 1
                let store = (error as? SQLiteError).map(StoreWriteFailure.init(underlying:))
                let busy = error.storeFailurePasses
                let giveUp = (store?.storeClosed ?? false) || (stopReason() != nil && failures >= 2) || (!busy && failures >= 5)
                guard giveUp else {
                    backoff.sleep()
                    continue
                }
                let why = store.map { "\($0)" } ?? "\(error)"
                logger.error("could not record how work item \(itemID) ended (\(outcome.status.rawValue): \(outcome.error)): \(why); its lease is no longer renewed, and once it expires the item is marked interrupted, recoverable")
                running.recordUnrecorded(itemID, RunningItems.Unrecorded(
                    status: outcome.status, error: outcome.error + (why == outcome.error ? " (not recorded in the store)" : " (not recorded: \(why))"),
                    kind: outcome.kind))
                return
            }
        }
    }

    /// Collects to the last page; returns how many documents the item has collected in all. Each
    /// committed page is also kept in `tail` (as far as the budget goes) for the ingest.
    private func collect(with collector: any Collector, from cursor: String?, seq start: Int, keeping tail: inout CollectedTail,
                         context: ItemContext) throws -> Int {
        var cursor = cursor
        var seq = start
        while true {
            if let reason = stopReason() { throw StopRequested(reason: reason) }
            let page = try collector.page(after: cursor, for: context)
            let documents = seq..<(seq + page.documents.count)
            try injectFaults(.collect, documents: documents, item: context.itemName)
            try stallFaults(.collect, documents: documents, item: context.itemName)
            let started = ContinuousClock.now
            let outcome = try persist {
                try store.commitPage(itemID: context.itemID.uuidString.lowercased(), owner: owner, firstSeq: seq,
                                     documents: page.documents, nextCursor: page.next, note: page.note,
                                     sync: job.spec.checkpoint.sync)
            }
            tail.keep(page.documents)
            metrics.pageCommitLatency.record(duration: ContinuousClock.now - started)
            metrics.pageCommits.increment()
            metrics.documentsCollected.increment(by: page.documents.count)
            seq += page.documents.count
            cursor = page.next
            emit(.pageCollected(itemID: context.itemID, collected: seq))
            guard cursor != nil else { return seq }
            if outcome.jobCancelled { throw StopRequested(reason: .cancelled) }
        }
    }

    /// Delivers the staged documents from `start` up to `total` (the item's collected count) batch
    /// by batch, those this run collected from `tail`. The last batch's checkpoint also finishes the
    /// item, in one transaction, and the finished item is returned; nil when there was no batch left
    /// to deliver.
    private func ingest(into sink: any Ingester, from start: Int, upTo total: Int, sinkOffset: Int64?,
                        tail: borrowing CollectedTail, context: ItemContext) throws -> WorkItem? {
        try sink.prepare(for: context, sinkOffset: sinkOffset)
        let itemID = context.itemID.uuidString.lowercased()
        let batchSize = ComponentRegistry.batchSize(of: job.spec)
        var seq = start
        var cancelled = false
        while true {
            if let reason = stopReason() { throw StopRequested(reason: reason) }
            guard seq < total else { return nil }
            let documents = try tail.batch(from: seq, limit: batchSize, upTo: total) { from, limit in
                try store.stagedDocuments(itemID: itemID, from: from, limit: limit)
            }
            guard !documents.isEmpty else { return nil }
            if cancelled { throw StopRequested(reason: .cancelled) }
            let range = seq..<(seq + documents.count)
            try injectFaults(.ingest, documents: range, item: context.itemName)
            let offset = try sink.ingest(Batch(item: context, documents: documents))
            // The batch is in the sink and not yet checkpointed: the instant a crash would repeat it.
            try stallFaults(.ingest, documents: range, item: context.itemName)
            seq += documents.count
            let started = ContinuousClock.now
            var finished: WorkItem?
            if seq >= total {
                finished = try persist {
                    try store.finishAfterBatch(itemID: itemID, owner: owner, ingested: seq, sinkOffset: offset,
                                               sync: job.spec.checkpoint.sync)
                }
            } else {
                cancelled = try persist {
                    try store.commitBatch(itemID: itemID, owner: owner, ingested: seq, sinkOffset: offset,
                                          sync: job.spec.checkpoint.sync)
                }.jobCancelled
            }
            metrics.batchCommitLatency.record(duration: ContinuousClock.now - started)
            metrics.batchCommits.increment()
            metrics.documentsIngested.increment(by: documents.count)
            emit(.batchIngested(itemID: context.itemID, ingested: seq))
            if let finished { return finished }
        }
    }

    /// Fails the page or batch holding a fault's document while the fault has firings left.
    private func injectFaults(_ phase: Phase, documents: Range<Int>, item: String) throws {
        for fault in job.spec.faults where fault.stallMilliseconds == nil {
            if try fires(fault, phase, documents: documents, item: item) { throw PhaseError.transient(fault.message) }
        }
    }

    /// Holds the page (fetched, not yet staged) or the batch (in the sink, not yet checkpointed) of a
    /// stall fault's document for its `stall_ms`: the window a crash test aims its kill at. A stop
    /// request ends the stall.
    private func stallFaults(_ phase: Phase, documents: Range<Int>, item: String) throws {
        for fault in job.spec.faults {
            guard let milliseconds = fault.stallMilliseconds, try fires(fault, phase, documents: documents, item: item)
            else { continue }
            let end = Date().addingTimeInterval(Double(milliseconds) / 1000)
            while Date() < end {
                if let reason = stopReason() { throw StopRequested(reason: reason) }
                Thread.sleep(forTimeInterval: min(0.05, max(0, end.timeIntervalSinceNow)))
            }
        }
    }

    /// Whether `fault` is at these documents and fires now (each firing is counted in the store).
    private func fires(_ fault: FaultSpec, _ phase: Phase, documents: Range<Int>, item: String) throws -> Bool {
        guard fault.item == item, fault.phase == phase, documents.contains(fault.atDocument) else { return false }
        return try persist {
            try store.fireFault(jobID: job.id, itemName: item, phase: phase, atDocument: fault.atDocument, times: fault.times)
        }
    }
}
