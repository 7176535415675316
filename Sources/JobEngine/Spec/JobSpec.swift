import Foundation

/// A job: its items, the collector and ingester they use, and how they are retried and
/// checkpointed. Parse one from JSON with ``JobSpec/init(json:)`` or build one in code.
///
/// ```swift
/// let spec = JobSpec(
///     name: "news-2026-11",
///     collector: ComponentSpec(type: "synthetic", options: ["documents": 1000, "page_size": 50]),
///     ingester: ComponentSpec(type: "jsonl", options: ["path": "out/{item}.jsonl"]),
///     items: [ItemSpec(name: "q1", params: ["query": "swift"]), ItemSpec(name: "q2")])
/// ```
public struct JobSpec: Sendable, Equatable {
    public var name: String
    /// Items of this job that run at once.
    public var concurrency: Int
    public var retry: RetrySpec
    public var checkpoint: CheckpointSpec
    public var collector: ComponentSpec
    public var ingester: ComponentSpec
    /// The items, inline. Empty when they come from ``itemsFile``, and in a stored job's spec
    /// (read a job's items with `Engine.itemsPage`).
    public var items: [ItemSpec]
    /// A JSON Lines file of the items, one `{"name": …, "params": {…}}` per line, relative to the
    /// spec's folder: for jobs of many items, which are streamed from it and never held in memory.
    public var itemsFile: String?
    public var faults: [FaultSpec]

    public init(
        name: String, concurrency: Int = 4, retry: RetrySpec = RetrySpec(), checkpoint: CheckpointSpec = CheckpointSpec(),
        collector: ComponentSpec, ingester: ComponentSpec, items: [ItemSpec], itemsFile: String? = nil, faults: [FaultSpec] = []
    ) {
        self.name = name
        self.concurrency = concurrency
        self.retry = retry
        self.checkpoint = checkpoint
        self.collector = collector
        self.ingester = ingester
        self.items = items
        self.itemsFile = itemsFile
        self.faults = faults
    }
}

/// `retry`: automatic retries of transient failures.
public struct RetrySpec: Sendable, Equatable {
    /// All automatic attempts, the first run included: 1 = fail at the first error and wait for a
    /// manual retry.
    public var maxAttempts: Int
    /// The mode automatic retries use.
    public var mode: RetryMode
    /// The first back-off; each further attempt doubles it, with jitter.
    public var backoffMilliseconds: Int
    /// How many times in a row an item whose worker died is recovered automatically; past that
    /// it ends `failed` with kind `crash_loop` (a poison item that kills its worker every time
    /// must not loop), and waits for a manual retry. Enforced by both stores' sweeps of dead workers.
    public var maxRecoveries: Int

    public init(maxAttempts: Int = 1, mode: RetryMode = .recover, backoffMilliseconds: Int = 200, maxRecoveries: Int = 5) {
        self.maxAttempts = maxAttempts
        self.mode = mode
        self.backoffMilliseconds = backoffMilliseconds
        self.maxRecoveries = maxRecoveries
    }

    /// A job's `retry.max_recoveries`, from its stored settings (the default when they cannot be read).
    package static func maxRecoveries(settings: Data?) -> Int {
        guard let settings, let value = try? JSONValue.parse(settings),
              let spec = JobSpec.read(value, withoutItems: true).0 else { return RetrySpec().maxRecoveries }
        return spec.retry.maxRecoveries
    }

    /// Why an item interrupted `interruptions` times in a row (over its job's `cap`) is not
    /// recovered automatically, appended to the sweep's reason.
    package static func crashLoopNote(interruptions: Int, cap: Int) -> String {
        " (its worker died \(interruptions) times in a row running it, more than retry.max_recoveries = \(cap): not recovered automatically; retry it by hand once the cause is fixed)"
    }

    /// The policy these settings describe.
    public var policy: RetryPolicy {
        maxAttempts <= 1 ? .never : .exponentialBackoff(maxAttempts: maxAttempts, initialMilliseconds: backoffMilliseconds)
    }
}

/// `checkpoint`: how durable each checkpoint commit is.
public struct CheckpointSpec: Sendable, Equatable {
    public var sync: SyncMode

    public init(sync: SyncMode = .normal) {
        self.sync = sync
    }
}

/// A collector or ingester: its registered type name and its options (every other key of the
/// spec object).
public struct ComponentSpec: Sendable, Equatable {
    public var type: String
    public var options: [String: JSONValue]

    public init(type: String, options: [String: JSONValue] = [:]) {
        self.type = type
        self.options = options
    }
}

/// One work item: a name unique in the job, and parameters its collector and ingester read.
public struct ItemSpec: Sendable, Equatable {
    public var name: String
    public var params: [String: JSONValue]

    public init(name: String, params: [String: JSONValue] = [:]) {
        self.name = name
        self.params = params
    }
}

/// An injected transient error: the page or batch of `item` that holds document `atDocument`
/// (0-based) fails in `phase`, `times` times in all, counted in the store across attempts and
/// processes; or, with `stallMilliseconds`, a stall just before that page's or batch's checkpoint.
/// How tests, users and benchmarks rehearse outages and crashes.
public struct FaultSpec: Sendable, Equatable {
    public var item: String
    public var phase: Phase
    public var atDocument: Int
    public var times: Int
    public var message: String
    /// Instead of failing, hold the page after it was fetched (collect) or the batch after it reached
    /// the sink (ingest) for this long, before its checkpoint: the instant a crash hurts most.
    public var stallMilliseconds: Int?

    public init(item: String, phase: Phase, atDocument: Int, times: Int = 1, message: String = "injected fault",
                stallMilliseconds: Int? = nil) {
        self.item = item
        self.phase = phase
        self.atDocument = atDocument
        self.times = times
        self.message = message
        self.stallMilliseconds = stallMilliseconds
    }
}
