import Foundation

/// The store seam: everything the scheduler, the retry coordinator, the dead-owner sweep and the
/// readers need of a store, each call one atomic change or one consistent read. ``Store`` (SQLite)
/// is the first implementation; a second one (PostgreSQL, many hosts) implements the same calls and
/// passes the same conformance suite (`StoreConformanceTests`).
///
/// Policy stays out of it: which retries may start (`RetryRules`), who is dead (`DeadOwnerSweep`),
/// what to inject (`ItemRunner`) are decided by callers; a store reads facts and applies outcomes.
/// Every write of a running item is conditioned on its lease and throws `LeaseLost` when another
/// worker took it over (invariant 8).
///
/// Two kinds of callers, two kinds of calls. The scheduler's slot threads are dedicated threads
/// whose job is to wait for the store: they make synchronous calls. The engine's async API (and
/// through it the HTTP server) makes `async` calls, which suspend the task instead of parking a
/// thread and stop the store's work when the task is cancelled. A call both need has both forms.
package protocol JobStore: AnyObject, Sendable {
    /// Where the store is (a path, `:memory:`, later a URL); for messages and protected paths.
    var path: String { get }
    /// Opened for reading only: every write throws.
    var readOnly: Bool { get }
    /// Where same-host engines hold their owner locks, if this store has such a folder.
    var ownerLockDirectory: URL? { get }
    /// Checkpoint transactions committed since the store opened, and the checkpoints they carried.
    var checkpointStatistics: (transactions: Int, checkpoints: Int) { get }
    func close()

    // MARK: Jobs
    func submit(_ spec: JobSpec, baseDirectory: URL, owner: String, protecting: ProtectedPaths) async throws -> SubmitResult
    func unfinishedSubmits() throws -> [UnfinishedSubmit]
    func endUnfinishedSubmit(_ submit: UnfinishedSubmit, by owner: String) async throws
    func job(_ idOrName: String) throws -> Job?
    func job(_ idOrName: String) async throws -> Job?
    func runtimeJob(_ id: UUID) async throws -> Job?
    func jobs() async throws -> [Job]
    func cancelJob(_ jobID: UUID) async throws -> Int

    // MARK: Claims and checkpoints (lease-conditioned)
    func claimNext(jobID: UUID, specVersion: Int, owner: String, leaseSeconds: Double, sync: SyncMode,
                   onClaim: @escaping @Sendable (String) -> Void) throws -> Claim
    func pendingState(jobID: UUID) throws -> (pending: Int, earliestNotBefore: Double?)
    func commitPage(itemID: String, owner: String, firstSeq: Int, documents: [Document], nextCursor: String?, note: String?,
                    sync: SyncMode) throws -> CheckpointOutcome
    func stagedDocuments(itemID: String, from seq: Int, limit: Int) throws -> [SequencedDocument]
    func commitBatch(itemID: String, owner: String, ingested: Int, sinkOffset: Int64?, sync: SyncMode) throws -> CheckpointOutcome
    func clearSinkReset(itemID: String, owner: String) throws
    func claimWork(_ resource: String, token: String, itemID: String, owner: String) throws -> Bool
    /// Calls `handler` whenever a worker of the store, in any process, queues work; a store that
    /// cannot tell other processes (SQLite) never calls it, and workers find such work by polling.
    func onWorkQueued(_ handler: @escaping @Sendable () -> Void)
    func finish(itemID: String, owner: String, sync: SyncMode) throws -> WorkItem
    func finishAfterBatch(itemID: String, owner: String, ingested: Int, sinkOffset: Int64?, sync: SyncMode) throws -> WorkItem
    func stop(itemID: String, owner: String, as status: WorkItemStatus, error: String?, kind: ErrorKind?,
              retry: (mode: RetryMode, notBefore: Double)?, sync: SyncMode) throws -> WorkItem
    func fireFault(jobID: UUID, itemName: String, phase: Phase, atDocument: Int, times: Int) throws -> Bool

    // MARK: Leases and the sweep
    func renewLeases(owner: String, itemIDs: [String], leaseSeconds: Double) throws
    func runningOwners() throws -> [(owner: String, expiresAt: Double)]
    func markInterrupted(owner: String, reason: String) throws -> [UUID]
    func markInterrupted(itemIDs: [String], owner: String, reason: String) throws -> [UUID]
    func markExpiredInterrupted(now: Double, reason: String, spare: (_ itemID: String, _ owner: String) -> Bool) throws -> [UUID]

    // MARK: Retries
    func retry(_ ids: [UUID], mode: RetryMode, origin: RetryOrigin) throws -> RetryResult
    func retry(_ ids: [UUID], mode: RetryMode, origin: RetryOrigin) async throws -> RetryResult
    func retryPreview(_ ids: [UUID], mode: RetryMode) async throws -> RetryResult
    /// `scanLimit`: how many items one step may look at (``ItemWalk/stepScanLimit``).
    func retryMatching(_ filter: RetryFilter, mode: RetryMode, dryRun: Bool, scanLimit: Int) async throws -> RetryResult

    // MARK: Housekeeping
    func prune(finishedBefore cutoff: Double, dryRun: Bool) async throws -> PruneResult

    // MARK: Reads
    func item(_ id: UUID) async throws -> WorkItem?
    func items(jobID: UUID, status: WorkItemStatus?) throws -> [WorkItem]
    func items(jobID: UUID, status: WorkItemStatus?) async throws -> [WorkItem]
    func allItems(status: WorkItemStatus?) async throws -> [WorkItem]
    /// `scanLimit`: how many items a page narrowed by error text may look at (``ItemWalk/pageScanLimit``).
    func itemsPage(jobID: UUID, status: WorkItemStatus?, errorKind: ErrorKind?, errorContains: String?, after: Int?, limit: Int,
                   scanLimit: Int) async throws -> WorkItemPage
    func events(itemID: UUID) async throws -> [ItemEvent]
    func checkpoints(itemID: UUID) async throws -> [Checkpoint]
    func jobStatuses() async throws -> [JobStatus]
    func jobStatus(_ jobID: UUID) async throws -> JobStatus?
    func itemCounts() async throws -> [WorkItemStatus: Int]

    // MARK: Activity over time
    /// Records the totals of every job with pending or running items at this instant (and of every
    /// job whose totals moved since its last sample), and removes a few samples older than a day.
    func recordActivitySamples() async throws
    /// The job's samples, failures by minute and kind, and recent successes since `since`.
    func activity(jobID: UUID, since: Date) async throws -> JobActivity

    // MARK: Calls sent with an idempotency key
    /// Records that a call with `key` and `digest` starts under `owner` (a token of this call),
    /// removing a few answers older than a day on the way, or says how the call with that key stands.
    func beginIdempotentCall(key: String, digest: String, owner: String) async throws -> IdempotentCall
    /// Tells that `owner`'s call with `key` still runs (so it is not taken as abandoned).
    func touchIdempotentCall(key: String, owner: String) async throws
    /// Records the answer of `owner`'s call with `key`.
    func finishIdempotentCall(key: String, owner: String, status: Int, answer: String) async throws
    /// Forgets `owner`'s call with `key`, which failed having changed nothing, so the same call sent again runs.
    func abandonIdempotentCall(key: String, owner: String) async throws
    /// How many items are `failed`, by error kind (a failed item without a kind counts under nil).
    func failedItemKinds() async throws -> [ErrorKind?: Int]
    func jobsWithPendingItems() async throws -> [UUID]
    func interruptedItems() throws -> [UUID]
    func retryableItems(jobID: UUID) throws -> [UUID]
}

extension JobStore {
    package func onWorkQueued(_ handler: @escaping @Sendable () -> Void) {}
    func items(jobID: UUID) throws -> [WorkItem] { try items(jobID: jobID, status: nil) }
    func items(jobID: UUID) async throws -> [WorkItem] { try await items(jobID: jobID, status: nil) }
    func retry(_ ids: [UUID], mode: RetryMode) throws -> RetryResult { try retry(ids, mode: mode, origin: .manual) }
    func retry(_ ids: [UUID], mode: RetryMode) async throws -> RetryResult { try await retry(ids, mode: mode, origin: .manual) }
    func stop(itemID: String, owner: String, as status: WorkItemStatus, error: String?, kind: ErrorKind?) throws -> WorkItem {
        try stop(itemID: itemID, owner: owner, as: status, error: error, kind: kind, retry: nil, sync: .normal)
    }
    func finish(itemID: String, owner: String) throws -> WorkItem { try finish(itemID: itemID, owner: owner, sync: .normal) }
    func commitPage(itemID: String, owner: String, firstSeq: Int, documents: [Document], nextCursor: String?, sync: SyncMode) throws
        -> CheckpointOutcome {
        try commitPage(itemID: itemID, owner: owner, firstSeq: firstSeq, documents: documents, nextCursor: nextCursor, note: nil, sync: sync)
    }
    func claimNext(jobID: UUID, specVersion: Int, owner: String, leaseSeconds: Double,
                   onClaim: @escaping @Sendable (String) -> Void) throws -> Claim {
        try claimNext(jobID: jobID, specVersion: specVersion, owner: owner, leaseSeconds: leaseSeconds, sync: .normal, onClaim: onClaim)
    }
}

extension Store: JobStore {}
