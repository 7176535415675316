import Dispatch
import Foundation
import Logging

/// Runs a job's runnable items, at most `spec.concurrency` at once.
///
/// Each slot is a thread of its own (`JobEngine.worker.<job>.<n>`) that claims an item, runs it,
/// and claims the next, checking for shutdown before each claim; a `DispatchGroup` joins them.
/// Threads, not Dispatch queues: collectors and sinks block on I/O for as long as a source takes,
/// and libdispatch's pool stops adding threads at about 255, which silently capped `concurrency`
/// (and starved the store's own queues). Claims are transactions in the store, so workers of other
/// processes can share a job.
///
/// A stop lets running items reach their next checkpoint. A collector or sink call that has not
/// returned `stopGrace` seconds after the stop request (a FIFO nobody writes, a hung source) is
/// abandoned: its item is marked interrupted (recoverable) and its run returns without it.
final class Scheduler: Sendable {
    let store: any JobStore
    let owner: String
    let leaseSeconds: Double
    let stopGrace: Double
    let running: RunningItems
    let logger: Logger
    let emit: @Sendable (EngineEvent) -> Void
    private let metrics = EngineMetrics()
    private let collectedBudget = MemoryBudget()
    private let stopping = Locked<Bool>(false)
    /// When each job was last cancelled through this engine: its items running since before then
    /// stop waiting at once (`ItemContext.isStopping`) instead of at their next checkpoint.
    private let cancelledAt = Locked<[UUID: ContinuousClock.Instant]>([:])
    private let active = DispatchGroup()

    init(store: any JobStore, owner: String, leaseSeconds: Double, stopGrace: Double, running: RunningItems, logger: Logger,
         emit: @escaping @Sendable (EngineEvent) -> Void) {
        self.store = store
        self.owner = owner
        self.leaseSeconds = leaseSeconds
        self.stopGrace = stopGrace
        self.running = running
        self.logger = logger
        self.emit = emit
    }

    var isStopping: Bool { stopping.withLock { $0 } }

    /// The job was cancelled through this engine.
    func noteCancelled(_ jobID: UUID) {
        cancelledAt.withLock { $0[jobID] = .now }
    }

    /// Whether `jobID` was cancelled through this engine after `start`.
    func wasCancelled(_ jobID: UUID, after start: ContinuousClock.Instant) -> Bool {
        cancelledAt.withLock { $0[jobID].map { $0 > start } ?? false }
    }

    /// Runs every runnable item of `job` (pending now, or once its back-off passes) until none is
    /// left, then calls `completion` on a Dispatch thread.
    func run(job: Job, registry: ComponentRegistry, completion: @escaping @Sendable (Result<RunSummary, any Error>) -> Void) {
        active.enter()
        let group = DispatchGroup()
        let failure = Locked<(any Error)?>(nil)
        let runner = ItemRunner(store: store, registry: registry, job: job, owner: owner, running: running, logger: logger,
                                emit: emit, metrics: metrics, collectedBudget: collectedBudget, cancelledSince: { [weak self] start in
                                    self?.wasCancelled(job.id, after: start) ?? false
                                }) {
            [weak self] in (self?.isStopping ?? true) ? .shutdown : nil
        }
        // From a Dispatch thread: the caller may be a Swift-concurrency thread, which must not wait
        // on the store.
        DispatchQueue.global().async { [self] in
            // No more threads than items that could run: a job of three items with concurrency
            // 1,000 needs three.
            let pending = (try? store.pendingState(jobID: job.id).pending) ?? job.spec.concurrency
            for index in 0..<min(job.spec.concurrency, max(1, pending)) {
                let slot = Slot(group: group)
                let thread = Thread { [self] in
                    defer { slot.leave() }
                    do {
                        try self.work(job: job, runner: runner, slot: slot)
                    } catch {
                        failure.withLock { $0 = $0 ?? error }
                    }
                }
                thread.name = "JobEngine.worker.\(job.name).\(index)"
                thread.start()
            }
            group.notify(queue: DispatchQueue(label: "JobEngine.scheduler.\(job.name)")) { [self] in
                defer { self.active.leave() }
                if let error = failure.withLock({ $0 }) {
                    completion(.failure(error))
                    return
                }
                completion(Result { try self.summary(of: job) })
            }
        }
    }

    /// The job's items as they stand, with the outcomes this engine could not record shown as they
    /// happened: such an item still reads `running` in the store until its lease runs out.
    func summary(of job: Job) throws -> RunSummary {
        // Only outcomes explicitly given up on: an item merely absent from the running set may be
        // between a claim and its thread (another run of the same job in this engine).
        let items = try store.items(jobID: job.id).map { item -> WorkItem in
            let id = item.id.uuidString.lowercased()
            guard item.status == .running, item.leaseOwner == owner, !running.contains(id),
                  let outcome = running.unrecordedOutcome(id) else { return item }
            return item.overriding(status: outcome.status, error: outcome.error, kind: outcome.kind)
        }
        return RunSummary(job: try store.job(job.id.uuidString) ?? job, items: items)
    }

    /// One slot: claim, run, repeat, until nothing of the job is pending. A pending item still in
    /// its back-off is waited for (in short naps, so shutdown is noticed). Lock contention on a claim
    /// is waited out.
    private func work(job: Job, runner: ItemRunner, slot: Slot) throws {
        var contention = Backoff()
        var failedClaims = 0
        while !isStopping {
            // Set inside the claim's transaction, which may run on another slot's thread (the
            // group commit's leader).
            let claimedID = Locked<String?>(nil)
            let claim: Claim
            do {
                claim = try store.claimNext(jobID: job.id, specVersion: job.specVersion, owner: owner,
                                            leaseSeconds: leaseSeconds, sync: job.spec.checkpoint.sync) { [running] id in
                    claimedID.withLock { $0 = id }
                    running.begin(id, slot: slot)
                }
            } catch {
                // Nothing was claimed: the claim's transaction did not commit.
                if let id = claimedID.withLock({ $0 }) { running.end(id, slot: slot) }
                guard !error.storeFailurePasses else {
                    contention.sleep()
                    continue
                }
                guard let error = error as? SQLiteError else { throw error }
                // In a group commit a claim shares the fate of the checkpoints beside it, so a
                // full disk that failed another item's page failed this claim too: that item
                // records its own failure; this slot tries again a few times, then leaves the
                // job's pending items pending for a later run rather than failing the run.
                failedClaims += 1
                guard failedClaims < 5, !isStopping else {
                    logger.error("could not claim a work item of job \(job.name): \(StoreWriteFailure(underlying: error)); its pending items stay pending")
                    return
                }
                contention.sleep()
                continue
            }
            contention = Backoff()
            failedClaims = 0
            switch claim {
            case .claimed(let item):
                runner.run(item)
                // After the outcome was recorded (or given up on): from here the lease is not renewed.
                running.end(item.item.id.uuidString.lowercased(), slot: slot)
                continue
            case .specChanged:
                // The run ends; `Engine.run(jobID:)` starts the next with the new spec.
                return
            case .nothing:
                break
            }
            let state: (pending: Int, earliestNotBefore: Double?)
            do {
                state = try store.pendingState(jobID: job.id)
            } catch where error.storeFailurePasses {
                contention.sleep()
                continue
            }
            guard state.pending > 0 else { return }
            let wait = (state.earliestNotBefore ?? 0) - Date().timeIntervalSince1970
            Thread.sleep(forTimeInterval: min(max(wait, 0.01), 0.25))
        }
    }

    /// Stops claiming; running items stop at their next checkpoint, and those whose thread is still
    /// inside a collector or sink call `stopGrace` seconds later are abandoned. Calls `completion`
    /// once every run has returned.
    func stop(completion: @escaping @Sendable () -> Void) {
        let first = stopping.withLock { stopping in
            defer { stopping = true }
            return !stopping
        }
        if first {
            DispatchQueue.global().asyncAfter(deadline: .now() + stopGrace) { [self] in abandonStuckItems() }
        }
        active.notify(queue: DispatchQueue(label: "JobEngine.scheduler.shutdown"), execute: completion)
    }

    /// The grace period after a stop request ran out: marks the items still in progress interrupted
    /// and lets their runs return. Their threads may come back later; their lease is gone, so they
    /// can commit nothing (`LeaseLost`).
    private func abandonStuckItems() {
        let stuck = running.abandonAll()
        guard !stuck.isEmpty else { return }
        logger.warning("\(stuck.count) work item(s) did not reach a checkpoint within \(stopGrace) s of the stop request; abandoning them")
        do {
            let marked = try store.markInterrupted(
                itemIDs: stuck.map(\.itemID), owner: owner,
                reason: "the engine shut down, and the collector or sink call in progress did not return within \(Self.seconds(stopGrace)) of the stop request")
            if !marked.isEmpty { emit(.itemsInterrupted(marked)) }
        } catch {
            // Their leases are no longer renewed: a sweep marks them once they expire, and until
            // then the run reports them as they are and the owner lock file stays as proof.
            logger.error("could not mark the abandoned work items interrupted: \(error)")
            for (itemID, _) in stuck {
                running.recordUnrecorded(itemID, RunningItems.Unrecorded(
                    status: .failed, error: "abandoned at shutdown, and the store did not take the news (\(error))",
                    kind: .interrupted))
            }
        }
        for (_, slot) in stuck { slot.leave() }
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}
