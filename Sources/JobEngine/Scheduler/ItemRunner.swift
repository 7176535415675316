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
struct ItemRunner {
    let store: Store
    let registry: ComponentRegistry
    let job: Job
    let owner: String
    let logger: Logger
    let emit: @Sendable (EngineEvent) -> Void
    let metrics: EngineMetrics
    /// Checked before each page and batch.
    let stopReason: @Sendable () -> StopReason?

    func run(_ claim: ClaimedItem) {
        let item = claim.item
        var logger = logger
        logger[metadataKey: "job"] = "\(job.name)"
        logger[metadataKey: "item"] = "\(item.id.uuidString.lowercased())"
        logger[metadataKey: "attempt"] = "\(item.attempt)"
        let context = ItemContext(jobID: job.id, jobName: job.name, itemID: item.id, itemName: item.name,
                                  attempt: item.attempt, params: item.parameters, logger: logger)
        let itemID = item.id.uuidString.lowercased()
        logger.info("work item started", metadata: ["phase": "\(item.phase.rawValue)", "mode": "\(item.retryMode?.rawValue ?? "first run")"])
        emit(.itemStarted(item))

        var ingester: (any Ingester)?
        defer { ingester?.finish(for: context) }
        do {
            let baseDirectory = URL(fileURLWithPath: job.baseDirectory, isDirectory: true)
            let sink = try registry.makeIngester(job.spec, baseDirectory: baseDirectory, item: context)
            ingester = sink
            if claim.needsSinkReset {
                try sink.reset(for: context)
                try store.clearSinkReset(itemID: itemID, owner: owner)
            }
            if item.phase == .collect {
                let collector = try registry.makeCollector(job.spec, baseDirectory: baseDirectory, item: context)
                try collect(with: collector, from: claim.collectCursor, seq: item.collected, context: context)
            }
            // An item still collecting has delivered nothing, so this is (0, nil) for it.
            try ingest(into: sink, from: item.ingested, sinkOffset: claim.sinkOffset, context: context)
            let finished = try store.finish(itemID: itemID, owner: owner)
            logger.info("work item succeeded", metadata: ["collected_total": "\(finished.collectedTotal)"])
            emit(.itemStopped(finished))
        } catch let lost as LeaseLost {
            logger.warning("work item stopped: \(lost)")
        } catch let stop as StopRequested {
            let status: WorkItemStatus = stop.reason == .cancelled ? .cancelled : .failed
            record(itemID: itemID, logger: logger) {
                try store.stop(itemID: itemID, owner: owner, as: status,
                               error: stop.reason == .cancelled ? "job cancelled" : "engine shut down",
                               kind: stop.reason == .cancelled ? nil : .interrupted)
            }
        } catch {
            let kind = (error as? PhaseError)?.kind ?? .transient
            let policy = job.spec.retry.policy
            let retry = policy.shouldRetry(afterAttempt: claim.automaticAttempts, kind: kind)
                ? (mode: job.spec.retry.mode, notBefore: Date().timeIntervalSince1970 + policy.delay(afterAttempt: claim.automaticAttempts))
                : nil
            logger.error("work item failed: \(error)", metadata: ["error_kind": "\(kind.rawValue)", "retrying": "\(retry != nil)"])
            record(itemID: itemID, logger: logger) {
                try store.stop(itemID: itemID, owner: owner, as: .failed, error: "\(error)", kind: kind, retry: retry)
            }
        }
    }

    private func record(itemID: String, logger: Logger, _ write: () throws -> WorkItem) {
        do {
            emit(.itemStopped(try write()))
        } catch {
            // The store is gone (closed, or the lease taken over): the next engine's sweep marks the
            // item interrupted, so nothing is lost by not recording it here.
            logger.warning("could not record how work item \(itemID) stopped: \(error)")
        }
    }

    private func collect(with collector: any Collector, from cursor: String?, seq start: Int, context: ItemContext) throws {
        var cursor = cursor
        var seq = start
        while true {
            if let reason = stopReason() { throw StopRequested(reason: reason) }
            let page = try collector.page(after: cursor, for: context)
            try injectFaults(.collect, documents: seq..<(seq + page.documents.count), item: context.itemName)
            let started = ContinuousClock.now
            let outcome = try store.commitPage(itemID: context.itemID.uuidString.lowercased(), owner: owner, firstSeq: seq,
                                               documents: page.documents, nextCursor: page.next, sync: job.spec.checkpoint.sync)
            metrics.pageCommitLatency.record(duration: ContinuousClock.now - started)
            metrics.pageCommits.increment()
            metrics.documentsCollected.increment(by: page.documents.count)
            seq += page.documents.count
            cursor = page.next
            emit(.pageCollected(itemID: context.itemID, collected: seq))
            guard cursor != nil else { return }
            if outcome.jobCancelled { throw StopRequested(reason: .cancelled) }
        }
    }

    private func ingest(into sink: any Ingester, from start: Int, sinkOffset: Int64?, context: ItemContext) throws {
        try sink.prepare(for: context, sinkOffset: sinkOffset)
        let itemID = context.itemID.uuidString.lowercased()
        let batchSize = ComponentRegistry.batchSize(of: job.spec)
        var seq = start
        var cancelled = false
        while true {
            if let reason = stopReason() { throw StopRequested(reason: reason) }
            let documents = try store.stagedDocuments(itemID: itemID, from: seq, limit: batchSize)
            guard !documents.isEmpty else { return }
            if cancelled { throw StopRequested(reason: .cancelled) }
            try injectFaults(.ingest, documents: seq..<(seq + documents.count), item: context.itemName)
            let offset = try sink.ingest(Batch(item: context, documents: documents))
            seq += documents.count
            let started = ContinuousClock.now
            cancelled = try store.commitBatch(itemID: itemID, owner: owner, ingested: seq, sinkOffset: offset,
                                              sync: job.spec.checkpoint.sync).jobCancelled
            metrics.batchCommitLatency.record(duration: ContinuousClock.now - started)
            metrics.batchCommits.increment()
            metrics.documentsIngested.increment(by: documents.count)
            emit(.batchIngested(itemID: context.itemID, ingested: seq))
        }
    }

    /// Fails the page or batch holding a fault's document while the fault has firings left.
    private func injectFaults(_ phase: Phase, documents: Range<Int>, item: String) throws {
        for fault in job.spec.faults where fault.item == item && fault.phase == phase && documents.contains(fault.atDocument) {
            if try store.fireFault(jobID: job.id, itemName: item, phase: phase, atDocument: fault.atDocument, times: fault.times) {
                throw PhaseError.transient(fault.message)
            }
        }
    }
}
