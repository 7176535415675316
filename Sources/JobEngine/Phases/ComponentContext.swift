import Foundation

/// What a collector or ingester factory gets: its options from the spec and where relative paths
/// resolve.
public struct ComponentContext: Sendable {
    /// The component's spec object without `type` (and, for ingesters, without `batch_size`).
    public let options: [String: JSONValue]
    /// The folder of the spec file (or the folder given at submit): relative paths resolve here.
    public let baseDirectory: URL
    public let jobName: String
    /// The job's `checkpoint.sync`: sinks that can fsync do so when it is `full`.
    public let sync: SyncMode

    /// A path option with `{item}` and `{job}` replaced, resolved against `baseDirectory`.
    public func path(_ template: String, item: String?) -> URL {
        Self.resolve(template, item: item, job: jobName, baseDirectory: baseDirectory)
    }

    static func resolve(_ template: String, item: String?, job: String, baseDirectory: URL) -> URL {
        var path = template.replacingOccurrences(of: "{job}", with: job)
        if let item { path = path.replacingOccurrences(of: "{item}", with: item) }
        return path.hasPrefix("/") ? URL(fileURLWithPath: path) : baseDirectory.appendingPathComponent(path)
    }
}

/// What a validator may check a component's options against.
public struct ValidationContext: Sendable {
    public let baseDirectory: URL
    public let jobName: String
    public let itemNames: [String]

    /// Every path `template` names, one per item when it holds `{item}`.
    public func paths(_ template: String) -> [URL] {
        let items: [String?] = template.contains("{item}") ? itemNames : [nil]
        return items.map { ComponentContext.resolve(template, item: $0, job: jobName, baseDirectory: baseDirectory) }
    }
}
