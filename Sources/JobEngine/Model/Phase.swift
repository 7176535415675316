/// The phase a work item is in: it collects to the end, then ingests, then is done.
public enum Phase: String, Sendable, Codable, CaseIterable {
    case collect
    case ingest
    case done
}
