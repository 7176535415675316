/// What a prune removed (or, with `dryRun`, would remove): finished jobs with their items, events
/// and checkpoints. The documents the jobs delivered stay in their sinks.
public struct PruneResult: Sendable, Equatable {
    /// The names of the jobs removed.
    public let jobs: [String]
    /// Their work items, in all.
    public let items: Int

    package init(jobs: [String], items: Int) {
        self.jobs = jobs
        self.items = items
    }
}
