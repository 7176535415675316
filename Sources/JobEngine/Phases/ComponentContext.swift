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

    /// The component's options as `Options`, read by the same reader its validator uses; the
    /// first problem (a spec stored by another engine version, say) fails the item permanently.
    package func read<Options>(_ path: String, _ make: (FieldReader) -> Options) throws -> Options {
        let reader = FieldReader(options: options, path: path)
        let read = make(reader)
        if let problem = reader.allProblems.first { throw PhaseError.permanent("\(problem)") }
        return read
    }

    /// A path option with `{item}` and `{job}` replaced, resolved against `baseDirectory`.
    public func path(_ template: String, item: String?) -> URL {
        Self.resolve(template, item: item, job: jobName, baseDirectory: baseDirectory)
    }

    /// Names go into a path as one safe component each (``pathComponent(_:)``): only what the
    /// spec's author wrote literally can be absolute or climb out of a folder.
    static func resolve(_ template: String, item: String?, job: String, baseDirectory: URL) -> URL {
        var path = template.replacingOccurrences(of: "{job}", with: pathComponent(job))
        if let item { path = path.replacingOccurrences(of: "{item}", with: pathComponent(item)) }
        let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : baseDirectory.appendingPathComponent(path)
        return url.standardizedFileURL
    }

    /// `name` as one path component that names no other place: `/`, `\`, `%`, NUL and other control
    /// characters are percent-encoded, and so are the dots of `.` and `..`. An item named
    /// `../../victim/pwn` writes `..%2F..%2Fvictim%2Fpwn` in its own folder; `x` and `./x` stay two
    /// files. Names of letters, digits, `-`, `_` and inner dots are unchanged.
    public static func pathComponent(_ name: String) -> String {
        if name == "." || name == ".." { return String(repeating: "%2E", count: name.count) }
        var encoded = ""
        for scalar in name.unicodeScalars {
            if scalar == "/" || scalar == "\\" || scalar == "%" || scalar.properties.generalCategory == .control {
                encoded += String(format: "%%%02X", scalar.value)
            } else {
                encoded.unicodeScalars.append(scalar)
            }
        }
        return encoded
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
