import Foundation

/// Places no sink may write: the engine's own store (its database, WAL, shared memory, journal and
/// owners folder) and the spec file itself. One spec could otherwise destroy every job's history.
package struct ProtectedPaths: Sendable {
    /// Canonical files, each with what it is.
    private(set) var files: [String: String] = [:]
    /// Canonical folders, each with what it is; nothing inside them either.
    private(set) var folders: [String: String] = [:]

    package init() {}

    /// The store at `path` and its companion files.
    package static func store(at path: String) -> ProtectedPaths {
        var protected = ProtectedPaths()
        guard path != ":memory:" else { return protected }
        let database = CanonicalPath.of(URL(fileURLWithPath: path))
        protected.files[database] = "the engine's store"
        for suffix in ["-wal", "-shm", "-journal"] { protected.files[database + suffix] = "the engine's store (\(suffix))" }
        protected.folders[database + ".owners"] = "the engine's owners folder"
        return protected
    }

    /// These paths and the spec file at `url`.
    func adding(specFile url: URL) -> ProtectedPaths {
        var protected = self
        protected.files[CanonicalPath.of(url)] = "the spec file itself"
        return protected
    }

    /// What `file` is, if no sink may write it.
    package func what(_ file: String) -> String? {
        if let what = files[file] { return what }
        return folders.first { file == $0.key || file.hasPrefix($0.key + "/") }?.value
    }
}
