import Dispatch
import Foundation
import Logging

/// The engine an embedder uses: open a store, register collectors and ingesters, submit jobs, run
/// them, observe progress, retry items, shut down.
///
/// ```swift
/// let engine = try Engine(storePath: "pipeline.sqlite")
/// engine.register(collector: "rss") { context, item in RSSCollector(feed: item.params["feed"]) }
/// let job = try await engine.submit(specAt: URL(fileURLWithPath: "news.json")).job
/// let summary = try await engine.run(jobID: job.id)
/// if !summary.allSucceeded {
///     _ = try await engine.retry(summary.failed.map(\.id), mode: .recover)
///     _ = try await engine.run(jobID: job.id)
/// }
/// await engine.shutdown()
/// ```
///
/// Opening an engine marks the items of dead workers (on this host: at once, by their owner lock;
/// elsewhere: when their lease expires) `failed` with kind `interrupted`, ready for `recover`.
public final class Engine: Sendable {
    /// The store behind the engine: for this package's own targets (the HTTP API, engine-run, tests),
    /// never for embedders, who go through the engine's methods.
    package let store: any JobStore
    /// This engine's identity in item leases: `<host>:<pid>:<uuid>`.
    public let owner: String
    private let logger: Logger
    private let leaseSeconds: Double
    private let lock: OwnerLock?
    private let heartbeat: Heartbeat?
    private let scheduler: Scheduler
    private let running = RunningItems()
    private let registry = Locked(ComponentRegistry.builtIn)
    private let hub: EventHub
    private let closed = Locked(false)
    /// Items the sweep at open marked interrupted, until `resume` reports them.
    private let sweptAtOpen = Locked<[UUID]>([])
    /// Names of the jobs this engine is submitting now: a submit of this engine's not among them
    /// was given up (its task failed past retrying) and is ended like a dead engine's.
    private let submitting = Locked<[String: Int]>([:])

    /// How an engine uses its store.
    public enum Access: Sendable {
        /// Runs, submits, retries: the engine holds an owner lock and sweeps dead workers' items.
        case readWrite
        /// Reads only: nothing is written, not even a lock file; no sweep. For status and listing
        /// commands, which must work on another OS user's store, a read-only file or a full disk.
        case readOnly
    }

    /// Opens (creating if needed) the store at `storePath` (`":memory:"` for a private in-memory store).
    ///
    /// - Parameters:
    ///   - storePath: the SQLite file of the store; `":memory:"` for a private in-memory one.
    ///   - access: `.readOnly` for an engine that only reads (every write throws).
    ///   - leaseSeconds: how long an item's lease lasts without a heartbeat. A live engine renews the
    ///     leases of the items its threads work on every third of it; an item whose lease expired is
    ///     marked interrupted by the next sweep (on this host, a dead engine's lock says so at once).
    ///   - stopGraceSeconds: after a stop request, how long a collector or sink call may take to
    ///     return before its item is abandoned (marked interrupted, recoverable). An abandoned page
    ///     was fetched but never staged, so its recover fetches it again: keep this above the time a
    ///     page of a paid source takes.
    ///   - logger: where the engine logs; it never bootstraps a logging backend.
    /// - Throws: `EngineError` (`.storeUnusable`, `.storeNewerThanEngine`) or `SQLiteError`.
    public convenience init(storePath: String, access: Access = .readWrite, leaseSeconds: Double = 30,
                            stopGraceSeconds: Double = 10, logger: Logger = Logger(label: "JobEngine")) throws {
        try self.init(storePath: storePath, access: access, leaseSeconds: leaseSeconds, stopGraceSeconds: stopGraceSeconds,
                      busyTimeoutMilliseconds: 5_000, logger: logger)
    }

    /// As the public initializer, with SQLite's busy timeout settable (tests of lock contention).
    convenience init(storePath: String, access: Access, leaseSeconds: Double, stopGraceSeconds: Double,
                     busyTimeoutMilliseconds: Int32, logger: Logger) throws {
        let store = try Store(path: storePath, readOnly: access == .readOnly, busyTimeoutMilliseconds: busyTimeoutMilliseconds,
                              logger: logger)
        try self.init(store: store, access: access, owner: OwnerLock.makeOwnerID(), leaseSeconds: leaseSeconds,
                      stopGraceSeconds: stopGraceSeconds, logger: logger)
    }

    /// An engine on `store` (another store behind the seam: PostgreSQL), working as `owner`
    /// (`host:pid:engine`, the host part what the store records as the lease's host).
    package init(store: any JobStore, access: Access, owner: String, leaseSeconds: Double, stopGraceSeconds: Double,
                 logger: Logger) throws {
        self.store = store
        self.owner = owner
        self.logger = logger
        self.leaseSeconds = leaseSeconds
        let hub = EventHub()
        self.hub = hub
        scheduler = Scheduler(store: store, owner: owner, leaseSeconds: leaseSeconds, stopGrace: stopGraceSeconds,
                              running: running, logger: logger, emit: hub.emit)
        guard access == .readWrite else {
            lock = nil
            heartbeat = nil
            return
        }
        lock = try store.ownerLockDirectory.map { try OwnerLock(owner: owner, directory: $0) }
        heartbeat = Heartbeat(store: store, owner: owner, running: running, leaseSeconds: leaseSeconds, logger: logger)
        do {
            let swept = try sweep()
            sweptAtOpen.withLock { $0 = swept }
        } catch let error as SQLiteError where error.isBusy {
            // Another process holds the write lock: the next start or poll sweeps instead.
            logger.notice("sweep at open skipped: the store is locked by another process")
        }
    }

    // MARK: Components

    /// Makes collector type `type` available to specs. Replaces a type of the same name.
    ///
    /// - Parameters:
    ///   - type: the name specs give in `collector.type`.
    ///   - validate: checks the options of a spec naming this type (report problems on the reader).
    ///   - make: builds the collector for one run of one item.
    public func register(collector type: String, validate: @escaping ComponentRegistry.Validator = { _, _ in },
                         make: @escaping ComponentRegistry.CollectorFactory) {
        registry.withLock { $0.register(collector: type, validate: validate, make: make) }
    }

    /// Refuses specs naming ingester type `type` (see ``ComponentRegistry/refuse(ingester:_:)``).
    package func refuse(ingester type: String, _ message: String) {
        registry.withLock { $0.refuse(ingester: type, message) }
    }

    /// Makes ingester type `type` available to specs. Replaces a type of the same name.
    ///
    /// - Parameters:
    ///   - type: the name specs give in `ingester.type`.
    ///   - validate: checks the options of a spec naming this type (report problems on the reader).
    ///   - make: builds the ingester for one run of one item.
    public func register(ingester type: String, validate: @escaping ComponentRegistry.Validator = { _, _ in },
                         make: @escaping ComponentRegistry.IngesterFactory) {
        registry.withLock { $0.register(ingester: type, validate: validate, make: make) }
    }

    /// Makes collector type `type` available to specs, for a source with an async API.
    ///
    /// - Parameters:
    ///   - type: the name specs give in `collector.type`.
    ///   - validate: checks the options of a spec naming this type (report problems on the reader).
    ///   - make: builds the collector for one run of one item.
    public func register(asyncCollector type: String, validate: @escaping ComponentRegistry.Validator = { _, _ in },
                         make: @escaping @Sendable (ComponentContext, ItemContext) throws -> any AsyncCollector) {
        registry.withLock { $0.register(asyncCollector: type, validate: validate, make: make) }
    }

    /// Makes ingester type `type` available to specs, for a sink with an async API.
    ///
    /// - Parameters:
    ///   - type: the name specs give in `ingester.type`.
    ///   - validate: checks the options of a spec naming this type (report problems on the reader).
    ///   - make: builds the ingester for one run of one item.
    public func register(asyncIngester type: String, validate: @escaping ComponentRegistry.Validator = { _, _ in },
                         make: @escaping @Sendable (ComponentContext, ItemContext) throws -> any AsyncIngester) {
        registry.withLock { $0.register(asyncIngester: type, validate: validate, make: make) }
    }

    // MARK: Jobs

    /// Validates and records a spec (a new job, or the next version of a job of that name).
    ///
    /// - Parameters:
    ///   - spec: the job; validated exactly as a spec file is.
    ///   - baseDirectory: where relative paths resolve; the current directory by default.
    /// - Returns: the job, whether it was created, and which items were added or changed parameters.
    /// - Throws: `EngineError` `.invalidSpec` listing every problem (sink targets another job owns
    ///   included); then nothing is written.
    public func submit(_ spec: JobSpec, baseDirectory: URL? = nil) async throws -> SubmitResult {
        let base = (baseDirectory ?? URL(fileURLWithPath: FileManager.default.currentDirectoryPath)).standardizedFileURL
        // Exactly the checks a spec file gets (`loadSpec`): one reader, one set of rules.
        let problems = spec.validationProblems()
            + registry.withLock { $0 }.problems(in: spec, baseDirectory: base, protecting: .store(at: store.path))
        guard problems.isEmpty else { throw JobSpec.invalid(problems) }
        return try await record(spec, baseDirectory: base, protecting: .store(at: store.path))
    }

    /// Reads, validates and records the JSON spec at `url`; its relative paths resolve against its folder.
    ///
    /// - Returns: as ``submit(_:baseDirectory:)``.
    /// - Throws: `EngineError` `.invalidSpec` (unreadable file, malformed JSON, every problem); then
    ///   nothing is written.
    public func submit(specAt url: URL) async throws -> SubmitResult {
        let protected = ProtectedPaths.store(at: store.path).adding(specFile: url)
        let spec = try registry.withLock { $0 }.loadSpec(at: url, protecting: protected)
        return try await record(spec, baseDirectory: url.deletingLastPathComponent().standardizedFileURL, protecting: protected)
    }

    private func record(_ spec: JobSpec, baseDirectory: URL, protecting: ProtectedPaths) async throws -> SubmitResult {
        try checkWritable()
        // Another live engine submitting the same job (two `engine-run run` of one spec at once):
        // this submit waits for that one and then goes on, as one long transaction made it wait before;
        // after ten minutes it gives up with the other engine's name.
        var wait = 0.05
        let deadline = Date().addingTimeInterval(600)
        submitting.withLock { $0[spec.name, default: 0] += 1 }
        defer { submitting.withLock { $0[spec.name, default: 1] -= 1; if $0[spec.name] == 0 { $0[spec.name] = nil } } }
        while true {
            try await endDeadSubmits()
            do {
                return try await store.submit(spec, baseDirectory: baseDirectory, owner: owner, protecting: protecting)
            } catch let error as EngineError where error.code == .busy && Date() < deadline {
                try checkOpen()
                try await Task.sleep(for: .seconds(wait))
                wait = min(wait * 2, 1)
            }
        }
    }

    /// Discards or finishes the submits of engines proven dead (`DeadOwnerSweep.deadSubmits`), and
    /// this engine's own submits that it gave up.
    func endDeadSubmits() async throws {
        let ended = try await blocking { [self] in
            let inFlight = submitting.withLock { Set($0.keys) }
            let abandoned = try store.unfinishedSubmits().filter { $0.owner == owner && !inFlight.contains($0.jobName) }
            return try DeadOwnerSweep(store: store, owner: owner, running: running).deadSubmits() + abandoned
        }
        for submit in ended {
            logger.warning("the unfinished submit of job \(submit.jobName) by \(submit.owner) is \(submit.applying ? "finished" : "discarded")")
            try await store.endUnfinishedSubmit(submit, by: owner)
        }
    }

    /// Runs the job's runnable items to completion (including automatic retries) and returns how
    /// its items stand afterwards. Items another live worker is running are waited for (and taken
    /// over, from their checkpoints, if that worker dies), so the summary shows every item finished,
    /// unless the engine is shutting down. An item whose outcome the store would not take (a full
    /// disk) is reported with that outcome and not waited for.
    ///
    /// - Returns: the job's items as they stand at the end.
    /// - Throws: `EngineError` (`.unknownJob`, `.shutDown`, `.storeUnusable` for a job whose stored
    ///   spec cannot be read) or `SQLiteError` when the store fails outside an item.
    public func run(jobID: UUID) async throws -> RunSummary {
        while true {
            let summary = try await start(jobID: jobID).wait()
            let unfinished = summary.items.contains { $0.status == .running || $0.status == .pending }
            if !unfinished || scheduler.isStopping { return summary }
            // Another worker holds some items (a dead one is swept by the next `start`), or the spec
            // changed under the run, which then starts again with the new one.
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Runs several jobs at once, each as ``run(jobID:)`` does.
    ///
    /// - Returns: the summaries, in the order of `jobIDs`.
    /// - Throws: the first error of any run, as ``run(jobID:)``.
    public func run(jobIDs: [UUID]) async throws -> [RunSummary] {
        try await withThrowingTaskGroup(of: (Int, RunSummary).self) { group in
            for (index, jobID) in jobIDs.enumerated() {
                group.addTask { (index, try await self.run(jobID: jobID)) }
            }
            var summaries: [(Int, RunSummary)] = []
            for try await summary in group { summaries.append(summary) }
            return summaries.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    /// Starts running the job's runnable items in the background.
    ///
    /// - Returns: a handle whose `wait()` gives the run's summary.
    /// - Throws: as ``run(jobID:)``.
    public func start(jobID: UUID) async throws -> RunHandle {
        try checkWritable()
        do {
            try await endDeadSubmits()  // a job a dead engine was applying a spec to runs once it is finished
        } catch let error as SQLiteError where error.isBusy {
            logger.notice("ending a dead engine's submit skipped: the store is locked by another process")
        }
        _ = try await blocking { [self] in
            do {
                return try continueSwept(jobID: jobID)
            } catch let error as SQLiteError where error.isBusy {
                // Sweeping is opportunistic: another process holding the write lock delays it to the next start.
                logger.notice("sweep skipped: the store is locked by another process")
                return []
            }
        }
        guard let job = try await store.runtimeJob(jobID) else {
            throw EngineError(.unknownJob, "No job has the id \(jobID)")
        }
        if let problem = job.specError {
            throw EngineError(.storeUnusable, "job \(job.name) cannot run: \(problem); submit its spec again")
        }
        let handle = RunHandle()
        scheduler.run(job: job, registry: registry.withLock { $0 }) { result in handle.complete(result) }
        return handle
    }

    /// Cancels a job: pending items become `cancelled` now, running items at their next checkpoint.
    /// After a cancel no automatic retry starts; only a manual ``retry(_:mode:)`` re-opens the job.
    ///
    /// - Returns: how many pending items were cancelled.
    /// - Throws: `EngineError` `.shutDown`, or `SQLiteError` when the store cannot be written.
    @discardableResult
    public func cancel(jobID: UUID) async throws -> Int {
        try checkWritable()
        let cancelled = try await store.cancelJob(jobID)
        scheduler.noteCancelled(jobID)
        return cancelled
    }

    // MARK: Retry

    /// Starts a retry of each listed item that is `failed` or `cancelled`, in one transaction, so
    /// concurrent retries of one item start it once. `recover` is refused for an item whose
    /// parameters changed since its checkpoints ("parameters changed; use restart"). Run the job
    /// (``run(jobID:)``) to carry the retries out.
    ///
    /// - Returns: how many started, and each skipped id with its reason.
    /// - Throws: `SQLiteError` when the store cannot be written; then nothing changed.
    public func retry(_ ids: [UUID], mode: RetryMode) async throws -> RetryResult {
        try checkWritable()
        return try await RetryCoordinator(store: store).retry(ids, mode: mode)
    }

    /// Starts a retry of every failed item of a job (of every job when `jobID` is nil), in steps of
    /// a few thousand items per transaction: for the hour after an outage, when thousands failed.
    /// Concurrent retries start each item once, as with ``retry(_:mode:)``.
    ///
    /// - Parameters:
    ///   - jobID: the job whose failed items to retry; nil for every job's.
    ///   - mode: `restart` or `recover`, as for ``retry(_:mode:)``.
    ///   - dryRun: say what would start, changing nothing.
    /// - Returns: the retries started (or that would start) and the failed items skipped, with reasons.
    /// - Throws: `SQLiteError` when the store cannot be written; the steps done before stay done.
    public func retryFailed(jobID: UUID? = nil, mode: RetryMode, dryRun: Bool = false) async throws -> RetryResult {
        try await retryMatching(RetryFilter(jobID: jobID), mode: mode, dryRun: dryRun)
    }

    /// Starts a retry of every item `filter` matches (failed with this kind, this text in its
    /// error, in this phase, since then…), in steps of a few thousand items per transaction, however
    /// many match. Concurrent retries start each item once, as with ``retry(_:mode:)``.
    ///
    /// - Parameters:
    ///   - filter: which items; ``RetryFilter/init(jobID:statuses:errorKind:errorContains:phase:failedSince:)``
    ///     with no arguments takes every failed item of every job.
    ///   - mode: `restart` or `recover`, as for ``retry(_:mode:)``.
    ///   - dryRun: say what would start, changing nothing.
    /// - Returns: the retries started (or that would start) and the matching items skipped, with reasons.
    /// - Throws: `SQLiteError` when the store cannot be written; the steps done before stay done.
    public func retryMatching(_ filter: RetryFilter, mode: RetryMode, dryRun: Bool = false) async throws -> RetryResult {
        if !dryRun { try checkWritable() }
        return try await store.retryMatching(filter, mode: mode, dryRun: dryRun, scanLimit: ItemWalk.stepScanLimit)
    }

    /// What ``retry(_:mode:)`` would start, changing nothing.
    ///
    /// - Returns: the retries that would start and the ids that would be skipped, with reasons.
    /// - Throws: `SQLiteError` when the store cannot be read.
    public func retryPreview(_ ids: [UUID], mode: RetryMode) async throws -> RetryResult {
        try await RetryCoordinator(store: store).preview(ids, mode: mode)
    }

    // MARK: Reading

    /// Removes finished jobs (every item `succeeded` or `cancelled`) not changed for `age`: their
    /// items, history and checkpoints, a step at a time. What they delivered stays in the sinks.
    ///
    /// - Parameters:
    ///   - age: how long a job must have been finished and untouched.
    ///   - dryRun: only say what would be removed.
    /// - Throws: `SQLiteError` (or the PostgreSQL store's error) when the store cannot be written;
    ///   the steps done before stay done.
    public func prune(finishedFor age: Duration, dryRun: Bool = false) async throws -> PruneResult {
        try await store.prune(finishedBefore: Date().timeIntervalSince1970 - age.inSeconds, dryRun: dryRun)
    }

    /// Every job, oldest first.
    ///
    /// - Returns: the jobs (a job whose stored spec cannot be read carries a `specError`).
    /// - Throws: `SQLiteError` when the store cannot be read.
    public func jobs() async throws -> [Job] { try await store.jobs() }

    /// The job with this id or name.
    ///
    /// - Returns: the job, or nil when no job has that id or name.
    /// - Throws: `SQLiteError` when the store cannot be read.
    public func job(_ idOrName: String) async throws -> Job? { try await store.job(idOrName) }

    /// A job's items in spec order, optionally only those with `status`.
    ///
    /// - Returns: the items (for large jobs, page with ``itemsPage(jobID:status:errorKind:errorContains:after:limit:)``).
    /// - Throws: `SQLiteError` when the store cannot be read.
    public func items(jobID: UUID, status: WorkItemStatus? = nil) async throws -> [WorkItem] {
        try await store.items(jobID: jobID, status: status)
    }

    /// One work item.
    ///
    /// - Returns: the item, or nil for an unknown id.
    /// - Throws: `SQLiteError` when the store cannot be read.
    public func item(_ id: UUID) async throws -> WorkItem? { try await store.item(id) }

    /// The item's transitions, oldest first: attempts, modes, errors, and why a claim restarted it.
    ///
    /// - Returns: the events (empty for an unknown id).
    /// - Throws: `SQLiteError` when the store cannot be read.
    public func history(itemID: UUID) async throws -> [ItemEvent] {
        try await store.events(itemID: itemID)
    }

    // MARK: Observing

    /// Calls `handler` (on engine threads) for every event until the returned token is passed to
    /// ``removeObserver(_:)``.
    ///
    /// - Returns: the token that removes the observer.
    @discardableResult
    public func observe(_ handler: @escaping @Sendable (EngineEvent) -> Void) -> UUID {
        hub.add(handler)
    }

    /// Stops calling the observer that ``observe(_:)`` returned `token` for.
    public func removeObserver(_ token: UUID) {
        hub.remove(token)
    }

    /// The engine's events as an async sequence; it ends when the engine shuts down or the consumer stops.
    ///
    /// - Returns: a stream of every event from now on.
    public func events() -> AsyncStream<EngineEvent> {
        AsyncStream { continuation in
            let token = observe { continuation.yield($0) }
            continuation.onTermination = { [weak self] _ in self?.removeObserver(token) }
        }
    }

    // MARK: Stopping

    /// Stops gracefully: no new item starts, running items stop at their next checkpoint and are
    /// left `failed` with kind `interrupted` (recoverable), then the store closes.
    public func shutdown() async {
        guard !closed.withLock({ $0 }) else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            scheduler.stop { continuation.resume() }
        }
        close()
    }

    /// Starts a graceful stop without waiting: no new item starts, running items stop at their next
    /// checkpoint, and runs in progress return. For signal handlers; follow with ``shutdown()``.
    public func requestShutdown() {
        scheduler.stop {}
    }

    /// True once a shutdown was requested: no new item starts.
    public var isStopping: Bool { scheduler.isStopping }

    /// Closes the store at once without waiting for running items: what a process exit does. Items
    /// still running stay `running`; the next engine to open the store marks them interrupted.
    public func close() {
        let wasClosed = closed.withLock { closed in
            defer { closed = true }
            return closed
        }
        guard !wasClosed else { return }
        scheduler.stop {}
        heartbeat?.stop()
        // A submit this engine leaves unfinished is ended by the next engine, which needs the lock
        // file to prove this one died.
        let leavesSubmit = (try? store.unfinishedSubmits().contains { $0.owner == owner }) ?? false
        store.close()
        lock?.release(removingFile: !running.leftBehind && !leavesSubmit)
        hub.removeAll()
    }

    private func checkOpen() throws {
        if closed.withLock({ $0 }) { throw EngineError(.shutDown, "The engine is shut down") }
    }

    func checkWritable() throws {
        try checkOpen()
        if store.readOnly {
            throw EngineError(.storeUnusable, "this engine opened \(store.path) read-only; open it with access .readWrite to change it")
        }
    }

    /// The items the sweep at open marked interrupted; empty after the first call.
    func takeSweptAtOpen() -> [UUID] {
        sweptAtOpen.withLock { swept in
            defer { swept = [] }
            return swept
        }
    }

    /// Marks dead workers' items interrupted and tells observers.
    func sweep() throws -> [UUID] {
        let interrupted = try DeadOwnerSweep(store: store, owner: owner, running: running).run()
        if !interrupted.isEmpty {
            logger.warning("marked \(interrupted.count) work item(s) of dead workers as interrupted")
            hub.emit(.itemsInterrupted(interrupted))
        }
        return interrupted
    }

    /// Sweeps, then continues the swept items (of `jobID` only, when given) from their checkpoints:
    /// `recover`, or `restart` where their parameters changed. What a run waiting for another
    /// worker's items and a serving worker do when that worker died. Returns the items continued.
    @discardableResult
    func continueSwept(jobID: UUID? = nil) throws -> [UUID] {
        let swept = try sweep()
        guard !swept.isEmpty else { return [] }
        let ids = try jobID.map { job in
            let mine = Set(try store.items(jobID: job, status: .failed).map(\.id))
            return swept.filter(mine.contains)
        } ?? swept
        // The items are marked; continuing them must not be lost to a moment of lock contention,
        // or they would wait for an operator although this engine is here to run them.
        var contention = Backoff()
        for attempt in 1... {
            do {
                let (recovered, restarted) = try RetryCoordinator(store: store).retryOrRestart(ids, mode: .recover, origin: .interruption)
                return recovered.started + restarted.started
            } catch let error as SQLiteError where error.isBusy && attempt < 20 {
                contention.sleep()
            }
        }
        return []
    }

    /// Runs the engine's maintenance work (the dead-owner sweep and the retries that continue what
    /// it found) on a Dispatch thread, never on a Swift-concurrency thread: it probes lock files and
    /// waits out another process's write lock with sleeps, for as long as that lasts. Reads and
    /// single changes never come here: they are the store's `async` calls (one hop, cancellable).
    func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result(catching: body)) }
        }
    }
}
