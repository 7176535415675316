import Metrics

/// The engine's metrics, reported through swift-metrics to whatever backend the process
/// bootstrapped (`engine-run serve` uses Prometheus); without one they cost a no-op call.
///
/// Handles are made when an engine opens, so bootstrap the metrics system before opening one.
package struct EngineMetrics: Sendable {
    static let checkpointCommits = "jobengine_checkpoint_commits_total"
    static let checkpointLatency = "jobengine_checkpoint_commit_duration_seconds"

    let documentsCollected = Counter(label: "jobengine_documents_collected_total")
    let documentsIngested = Counter(label: "jobengine_documents_ingested_total")
    let pageCommits = Counter(label: Self.checkpointCommits, dimensions: [("phase", Phase.collect.rawValue)])
    let batchCommits = Counter(label: Self.checkpointCommits, dimensions: [("phase", Phase.ingest.rawValue)])
    let pageCommitLatency = Timer(label: Self.checkpointLatency, dimensions: [("phase", Phase.collect.rawValue)])
    let batchCommitLatency = Timer(label: Self.checkpointLatency, dimensions: [("phase", Phase.ingest.rawValue)])

    /// Counts retries that started, by mode and by who asked (manual, automatic, interruption).
    package static func retriesStarted(_ count: Int, mode: RetryMode, origin: RetryOrigin) {
        guard count > 0 else { return }
        Counter(label: "jobengine_retries_total", dimensions: [("mode", mode.rawValue), ("origin", origin.rawValue)])
            .increment(by: count)
    }

    /// Counts items that stopped, by how they ended.
    package static func itemStopped(_ status: WorkItemStatus) {
        Counter(label: "jobengine_items_finished_total", dimensions: [("status", status.rawValue)]).increment()
    }
}
