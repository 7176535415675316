import Foundation

/// One place, one spelling: a path with the symlinks of its longest existing ancestor resolved, so
/// two spellings of one place (`out/x`, `out/./x`, a symlinked folder or store file) compare equal,
/// also before the file exists. What owner locks, sink targets and protected paths are keyed on.
enum CanonicalPath {
    static func of(_ url: URL) -> String {
        var existing = url.standardizedFileURL
        var rest: [String] = []
        while !FileManager.default.fileExists(atPath: existing.path) {
            let parent = existing.deletingLastPathComponent()
            if parent.path == existing.path { break }
            rest.insert(existing.lastPathComponent, at: 0)
            existing = parent
        }
        guard let resolved = realpath(existing.path, nil) else { return url.standardizedFileURL.path }
        defer { free(resolved) }
        return rest.reduce(URL(fileURLWithPath: String(cString: resolved))) { $0.appendingPathComponent($1) }.path
    }
}
