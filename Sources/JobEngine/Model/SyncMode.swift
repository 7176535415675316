/// How durable a commit is. `normal` survives a process crash (kill -9) in WAL mode; `full` also
/// survives power loss, at the price of an fsync per commit.
public enum SyncMode: String, Sendable, Codable, CaseIterable {
    case normal
    case full
}
