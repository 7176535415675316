import Foundation
import Logging
import ServiceLifecycle

/// A long-running worker: runs whatever becomes runnable in the store (new jobs' items, retries
/// queued over HTTP or with `engine-run retry --enqueue`, automatic retries) until stopped.
///
/// Each job with pending items gets one run (``Engine/run(jobID:)``) at a time, so the job's
/// `concurrency` holds. The worker looks for work when ``nudge()`` is called (say, right after a
/// retry was started) and otherwise every `pollInterval`, which is how it notices work queued by
/// other processes. Each look also sweeps: the items of workers that died meanwhile are marked
/// interrupted, and every interrupted item is continued here from its checkpoints.
///
/// ```swift
/// let worker = Worker(engine: engine)
/// async let serving: Void = worker.run()
/// _ = try await engine.retry(ids, mode: .recover)
/// worker.nudge()
/// ...
/// worker.stop()          // running items stop at their next checkpoint
/// await serving
/// await engine.shutdown()
/// ```
public final class Worker: Service, Sendable {
    public let engine: Engine
    private let pollInterval: Duration
    private let logger: Logger
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    /// Jobs with a run in progress; guarded by its lock, touched by the loop and finishing runs.
    private let running = Locked<Set<UUID>>([])

    /// The shortest poll interval: below it a worker would spend a core on polling an idle store.
    public static let minimumPollInterval: Duration = .milliseconds(50)

    /// - Parameters:
    ///   - engine: the engine whose store the worker serves.
    ///   - pollInterval: how often to look for work queued by other processes; at least
    ///     ``minimumPollInterval`` (a shorter one is raised to it).
    ///   - logger: where the worker logs runs and the work it takes over.
    public init(engine: Engine, pollInterval: Duration = .seconds(1), logger: Logger = Logger(label: "JobEngine.worker")) {
        self.engine = engine
        self.pollInterval = max(pollInterval, Self.minimumPollInterval)
        self.logger = logger
        // One buffered wake-up is enough: a scan finds everything pending at that moment.
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Look for runnable work now rather than at the next poll.
    public func nudge() {
        wake.yield()
    }

    /// Stops the worker: no new item starts, running items stop at their next checkpoint (left
    /// `failed`/`interrupted`, recoverable), and ``run()`` returns once their runs have.
    public func stop() {
        engine.requestShutdown()
        wake.finish()
    }

    /// The jobs whose runs are in progress.
    public var activeJobs: Set<UUID> { running.withLock { $0 } }

    /// Runs until ``stop()``, a graceful shutdown of its `ServiceGroup`, or task cancellation (each
    /// stops it the same way: running items checkpoint and stay recoverable). Call it once.
    ///
    /// A `Service`: an embedded pipeline worker runs it in its own `ServiceGroup`, no HTTP needed.
    public func run() async {
        await withGracefulShutdownHandler {
            await serve()
        } onGracefulShutdown: { [self] in
            logger.notice("stopping: running items stop at their next checkpoint")
            stop()
        }
    }

    private func serve() async {
        // Work queued by any process of a store that says so (PostgreSQL's NOTIFY) wakes the worker
        // at once; the poll is then only a fallback.
        engine.store.onWorkQueued { [wake] in wake.yield() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [wake, pollInterval] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: pollInterval)
                    wake.yield()
                }
            }
            await withTaskCancellationHandler {
                wake.yield()
                for await _ in wakeups {
                    guard !engine.isStopping else { break }
                    await startRuns(in: &group)
                }
            } onCancel: { [self] in
                stop()
            }
            // The engine is stopping: runs return once their items reach their next checkpoint.
            // Cancelling ends the poll timer, and a run that was only waiting for another worker's
            // items returns at once; the group then waits for the rest.
            group.cancelAll()
        }
    }

    private func startRuns(in group: inout TaskGroup<Void>) async {
        let pending: [UUID]
        do {
            // Workers die while this one serves (a separate `engine-run run` killed, a host lost): their
            // items are marked interrupted and continued here from their checkpoints, as are items
            // others marked interrupted and left (a run waiting on another job's items, say).
            let recovery = try await engine.recoverInterrupted()
            let continued = recovery.recovered.count + recovery.restarted.count
            if continued > 0 {
                logger.notice("continuing interrupted work items", metadata: ["items": "\(continued)"])
            }
            pending = try await engine.jobsWithPendingItems()
        } catch {
            logger.error("worker could not read pending work: \(error)")
            return
        }
        for jobID in pending where running.withLock({ $0.insert(jobID).inserted }) {
            group.addTask { [self] in
                do {
                    let summary = try await engine.run(jobID: jobID)
                    logger.info("run ended", metadata: [
                        "job": "\(summary.job.name)", "succeeded": "\(summary.succeeded.count)",
                        "failed": "\(summary.failed.count)",
                    ])
                } catch is CancellationError {
                    // Stopping while waiting for another worker's items: nothing went wrong.
                } catch {
                    logger.error("run of job \(jobID) failed: \(error)")
                }
                running.withLock { _ = $0.remove(jobID) }
                // Something may have become pending for this job while its run was finishing.
                nudge()
            }
        }
    }
}
