/// Why an item failed, which decides whether it is retried automatically.
public enum ErrorKind: String, Sendable, Codable, CaseIterable {
    /// A source outage, a sink time-out: retried automatically while `retry.max_attempts` allows.
    case transient
    /// Bad configuration, bad data: never retried automatically.
    case permanent
    /// The worker running the item died or shut down; not the item's fault.
    case interrupted
    /// The item's worker died more than `retry.max_recoveries` times in a row while running it: a
    /// poison item, no longer recovered automatically (a manual retry still runs it).
    case crashLoop = "crash_loop"
}
