/// How a failed or cancelled item runs again.
///
/// - `restart`: clear the item's checkpoints and staged documents, ask the sink to discard the item's
///   earlier output, and run from the beginning with the job's current parameters.
/// - `recover`: keep everything and resume from the last checkpoint. After an ingest failure nothing
///   is collected again. Refused when the job's parameters changed since the checkpoints were made.
public enum RetryMode: String, Sendable, Codable, CaseIterable {
    case restart
    case recover
}
