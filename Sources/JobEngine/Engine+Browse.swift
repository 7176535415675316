import Foundation

/// Reads for dashboards and APIs; each runs on a Dispatch thread, never blocking Swift concurrency.
extension Engine {
    /// Items of every job, optionally only those with `status`, in job then spec order.
    ///
    /// - Returns: the items; for one job's, ``items(jobID:status:)`` or ``itemsPage(jobID:status:errorKind:errorContains:after:limit:)``.
    /// - Throws: `SQLiteError` when the store cannot be read.
    public func allItems(status: WorkItemStatus? = nil) async throws -> [WorkItem] {
        try await store.allItems(status: status)
    }

    /// Checkpoint transactions committed since the engine opened, and the checkpoints they carried:
    /// how much group commit saved.
    public var checkpointStatistics: (transactions: Int, checkpoints: Int) { store.checkpointStatistics }

    /// Every job's standing (item counts per status, documents, last progress), oldest job first.
    ///
    /// - Returns: one standing per job; a job whose stored spec cannot be read is listed with its `specError`.
    /// - Throws: `SQLiteError` when the store cannot be read.
    public func jobStatuses() async throws -> [JobStatus] {
        try await store.jobStatuses()
    }

    /// One job's standing.
    ///
    /// - Returns: the standing, or nil for an unknown id.
    /// - Throws: `SQLiteError` when the store cannot be read.
    public func jobStatus(_ jobID: UUID) async throws -> JobStatus? {
        try await store.jobStatus(jobID)
    }

    /// Up to `limit` of a job's items after spec position `after` (from the start when nil), optionally
    /// only those with `status`, `errorKind` and `errorContains` (text in the last error, any case):
    /// keyset paging, so a page costs what it returns. Failed items of one kind are found along an
    /// index of their own; a page narrowed by error text looks at no more than 10,000 items, so it
    /// may hold fewer than `limit` items (none, even) and still have a `nextAfter` where the next
    /// page goes on looking.
    ///
    /// - Returns: the items and the position to continue after (nil on the last page).
    /// - Throws: `SQLiteError` when the store cannot be read.
    public func itemsPage(jobID: UUID, status: WorkItemStatus? = nil, errorKind: ErrorKind? = nil, errorContains: String? = nil,
                          after: Int? = nil, limit: Int) async throws -> WorkItemPage {
        try await store.itemsPage(jobID: jobID, status: status, errorKind: errorKind, errorContains: errorContains, after: after,
                                  limit: limit, scanLimit: ItemWalk.pageScanLimit)
    }

    /// The item's collect and ingest checkpoints.
    ///
    /// - Returns: the checkpoints, collect first; empty before the first page.
    /// - Throws: `SQLiteError` when the store cannot be read.
    public func checkpoints(itemID: UUID) async throws -> [Checkpoint] {
        try await store.checkpoints(itemID: itemID)
    }

    /// Item counts per status over every job.
    /// The job's activity since `since` (an hour ago by default): its documents over time (from the
    /// samples ``recordActivitySamples()`` takes), failures by minute and kind, and the time left at
    /// the rate items succeeded lately.
    ///
    /// - Throws: `SQLiteError` when the store cannot be read.
    public func activity(jobID: UUID, since: Date = Date().addingTimeInterval(-3_600)) async throws -> JobActivity {
        try await store.activity(jobID: jobID, since: since)
    }

    /// Records the totals of every job with pending or running items now: the points of the
    /// documents-per-second chart. `engine-run serve` calls it every 30 s; an embedder serving its
    /// own page calls it as often as it wants points.
    ///
    /// - Throws: `SQLiteError` when the store cannot be written.
    public func recordActivitySamples() async throws {
        try checkWritable()
        try await store.recordActivitySamples()
    }

    package func failedItemKinds() async throws -> [ErrorKind?: Int] {
        try await store.failedItemKinds()
    }

    package func itemCounts() async throws -> [WorkItemStatus: Int] {
        try await store.itemCounts()
    }

    /// Ids of the jobs (not cancelled) with pending items: new items, queued retries, automatic retries.
    package func jobsWithPendingItems() async throws -> [UUID] {
        try await store.jobsWithPendingItems()
    }

    /// How many failed items of jobs not cancelled a worker's death interrupted (what resume recovers).
    package func interruptedItemCount() async throws -> Int {
        try await blocking { [store] in try store.interruptedItems().count }
    }
}
