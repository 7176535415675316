import Dispatch
import Foundation
import Logging

/// How a run of a job ended: the job's items as they stand afterwards.
public struct RunSummary: Sendable {
    public let job: Job
    public let items: [WorkItem]

    public init(job: Job, items: [WorkItem]) {
        self.job = job
        self.items = items
    }

    public var succeeded: [WorkItem] { items.filter { $0.status == .succeeded } }
    public var failed: [WorkItem] { items.filter { $0.status == .failed } }
    public var cancelled: [WorkItem] { items.filter { $0.status == .cancelled } }
    /// True when every item of the job succeeded.
    public var allSucceeded: Bool { items.allSatisfy { $0.status == .succeeded } }
}

/// Runs a job's runnable items on Dispatch, at most `spec.concurrency` at once.
///
/// Each slot is a labelled serial queue (`JobEngine.worker.<job>.<n>`) that claims an item, runs it,
/// and claims the next, checking for shutdown before each claim; a `DispatchGroup` joins them.
/// Serial queues get threads of their own from libdispatch, which matters because collectors
/// block on I/O: items on a width-limited concurrent queue would starve each other on a 2-core
/// host. Claims are transactions in the store, so workers of other processes can share a job.
final class Scheduler: Sendable {
    let store: Store
    let owner: String
    let leaseSeconds: Double
    let logger: Logger
    let emit: @Sendable (EngineEvent) -> Void
    private let metrics = EngineMetrics()
    private let stopping = Locked<Bool>(false)
    private let active = DispatchGroup()

    init(store: Store, owner: String, leaseSeconds: Double, logger: Logger, emit: @escaping @Sendable (EngineEvent) -> Void) {
        self.store = store
        self.owner = owner
        self.leaseSeconds = leaseSeconds
        self.logger = logger
        self.emit = emit
    }

    var isStopping: Bool { stopping.withLock { $0 } }

    /// Runs every runnable item of `job` (pending now, or once its back-off passes) until none is
    /// left, then calls `completion` on a Dispatch thread.
    func run(job: Job, registry: ComponentRegistry, completion: @escaping @Sendable (Result<RunSummary, any Error>) -> Void) {
        active.enter()
        let group = DispatchGroup()
        let failure = Locked<(any Error)?>(nil)
        let jobID = job.id
        let runner = ItemRunner(store: store, registry: registry, job: job, owner: owner, logger: logger, emit: emit,
                                metrics: metrics) {
            [weak self] in (self?.isStopping ?? true) ? .shutdown : nil
        }
        for slot in 0..<job.spec.concurrency {
            group.enter()
            DispatchQueue(label: "JobEngine.worker.\(job.name).\(slot)").async { [self] in
                defer { group.leave() }
                do {
                    try self.work(jobID: jobID, runner: runner)
                } catch {
                    failure.withLock { $0 = $0 ?? error }
                }
            }
        }
        group.notify(queue: DispatchQueue(label: "JobEngine.scheduler.\(job.name)")) { [self] in
            defer { self.active.leave() }
            if let error = failure.withLock({ $0 }) {
                completion(.failure(error))
                return
            }
            completion(Result {
                RunSummary(job: try self.store.job(jobID.uuidString) ?? job, items: try self.store.items(jobID: jobID))
            })
        }
    }

    /// One slot: claim, run, repeat, until nothing of the job is pending. A pending item still in
    /// its back-off is waited for (in short naps, so shutdown is noticed).
    private func work(jobID: UUID, runner: ItemRunner) throws {
        while !isStopping {
            if let claim = try store.claimNext(jobID: jobID, owner: owner, leaseSeconds: leaseSeconds) {
                runner.run(claim)
                continue
            }
            let state = try store.pendingState(jobID: jobID)
            guard state.pending > 0 else { return }
            let wait = (state.earliestNotBefore ?? 0) - Date().timeIntervalSince1970
            Thread.sleep(forTimeInterval: min(max(wait, 0.01), 0.25))
        }
    }

    /// Stops claiming; running items stop at their next checkpoint. Calls `completion` once every
    /// run has returned.
    func stop(completion: @escaping @Sendable () -> Void) {
        stopping.withLock { $0 = true }
        active.notify(queue: DispatchQueue(label: "JobEngine.scheduler.shutdown"), execute: completion)
    }
}
