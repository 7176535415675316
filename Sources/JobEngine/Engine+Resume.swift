import Foundation

/// What ``Engine/resume()`` did.
public struct ResumeReport: Sendable {
    /// Items found `running` under a dead worker and marked interrupted by this call.
    public let interrupted: [UUID]
    /// Interrupted items continued with `recover`.
    public let recovered: [UUID]
    /// Interrupted items restarted because their job's parameters changed since their checkpoints.
    public let restarted: [UUID]
    /// The runs of every job that had pending items, as they ended.
    public let runs: [RunSummary]

    /// True when every item of every job that ran succeeded.
    public var allSucceeded: Bool { runs.allSatisfy(\.allSucceeded) }
}

/// What ``Engine/continueUnfinished(jobID:)`` did.
public struct ContinueReport: Sendable {
    /// Failed or cancelled items continued in the spec's `retry.mode`.
    public let continued: [UUID]
    /// Items restarted because their parameters changed (never recovered).
    public let restarted: [UUID]
}

extension Engine {
    /// After a crash: marks the items of dead workers interrupted, recovers every interrupted item
    /// (restarting those whose parameters changed; an interruption does not count against
    /// `retry.max_attempts`), then runs every job with pending items (including retries queued
    /// for a worker) to completion.
    ///
    /// - Returns: what was marked, recovered and restarted, and how each job's run ended.
    /// - Throws: as ``run(jobID:)``.
    public func resume() async throws -> ResumeReport {
        let recovery = try await recoverInterrupted()
        let runs = try await run(jobIDs: try await jobsWithPendingItems())
        return ResumeReport(interrupted: recovery.interrupted, recovered: recovery.recovered,
                            restarted: recovery.restarted, runs: runs)
    }

    /// The first half of ``resume()``: marks the items of dead workers interrupted and queues every
    /// interrupted item for `recover` (or `restart`, where parameters changed), without running
    /// them. A serving ``Worker`` then picks them up.
    ///
    /// - Returns: the items marked interrupted now, and those queued for recover and for restart.
    /// - Throws: `SQLiteError` when the store cannot be written.
    public func recoverInterrupted() async throws -> (interrupted: [UUID], recovered: [UUID], restarted: [UUID]) {
        try await endDeadSubmits()
        return try await blocking { [self] in
            let swept = takeSweptAtOpen() + (try sweep())
            let ids = try store.interruptedItems()
            let (recovered, restarted) = try RetryCoordinator(store: store).retryOrRestart(ids, mode: .recover, origin: .interruption)
            return (swept, recovered.started, restarted.started)
        }
    }

    /// For a job submitted again: its failed and cancelled items continue in the spec's
    /// `retry.mode`, except those whose parameters changed, which restart.
    ///
    /// - Returns: the items continued and those restarted.
    /// - Throws: `EngineError` `.unknownJob`, or `SQLiteError` when the store cannot be written.
    public func continueUnfinished(jobID: UUID) async throws -> ContinueReport {
        guard let job = try await job(jobID.uuidString) else { throw EngineError(.unknownJob, "No job has the id \(jobID)") }
        return try await blocking { [store] in
            let unfinished = try store.retryableItems(jobID: jobID)
            let (retried, restarted) = try RetryCoordinator(store: store)
                .retryOrRestart(unfinished, mode: job.spec.retry.mode, origin: .manual)
            return ContinueReport(continued: retried.started, restarted: restarted.started)
        }
    }
}
