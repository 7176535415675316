import Foundation

/// A place a built-in sink writes: a file of one item (`jsonl`) or a table of a SQLite file
/// (`sqlite`). Invariant 7: a target belongs to one job. The store records which job owns each
/// target, a spec whose target another job owns is refused, and so is a first write to a target that
/// already holds data the engine did not write for that job.
package struct SinkTarget: Sendable, Hashable {
    /// Canonical identity: `file:<real path>` or `sqlite:<real path>#<table>`.
    package let key: String
    /// The item the target is for (nil: shared by every item of the job, as a SQLite table is).
    package let item: String?
    /// The file, with symlinks resolved: what may never be the engine's own store.
    package let file: String
    /// The table, for a SQLite target.
    let table: String?

    package var description: String { table.map { "table \($0) of \(file)" } ?? file }

    /// The targets a spec's ingester writes, for the built-in types (custom ingesters: none known).
    static func of(_ spec: JobSpec, baseDirectory: URL) -> [SinkTarget] {
        of(spec, itemNames: spec.items.map(\.name), baseDirectory: baseDirectory)
    }

    /// Whether each item of `spec` writes a target of its own (its path holds `{item}`).
    package static func perItem(_ spec: JobSpec) -> Bool {
        guard case .string(let template) = spec.ingester.options["path"] else { return false }
        return template.contains("{item}")
    }

    /// The targets of the items named `itemNames` (of every item, when the target is shared): a
    /// submit streaming its items from a file asks chunk by chunk.
    package static func of(_ spec: JobSpec, itemNames: [String], baseDirectory: URL) -> [SinkTarget] {
        guard case .string(let template) = spec.ingester.options["path"] else { return [] }
        let names: [String?] = perItem(spec) ? itemNames : [nil]
        switch spec.ingester.type {
        case "jsonl":
            return names.map { name in
                let file = CanonicalPath.of(ComponentContext.resolve(template, item: name, job: spec.name, baseDirectory: baseDirectory))
                return SinkTarget(key: "file:" + file, item: name, file: file, table: nil)
            }
        case "sqlite":
            var table = "documents"
            if case .string(let named) = spec.ingester.options["table"] { table = named }
            return names.map { name in
                let file = CanonicalPath.of(ComponentContext.resolve(template, item: name, job: spec.name, baseDirectory: baseDirectory))
                return SinkTarget(key: "sqlite:\(file)#\(table)", item: name, file: file, table: table)
            }
        default:
            return []
        }
    }

    /// Whether the target already holds data written for another job or by anyone else: a non-empty
    /// file, or a table with rows of another job (any rows, in a table without a `job` column).
    package func holdsForeignData(job: String) -> Bool {
        guard let table else {
            let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
            return size > 0
        }
        guard FileManager.default.fileExists(atPath: file), let connection = try? Connection(path: file, readOnly: true) else {
            return false
        }
        defer { connection.close() }
        guard let columns = try? connection.execute("SELECT name FROM pragma_table_info(?)", [.text(table)]), !columns.isEmpty
        else { return false }
        if columns.contains(where: { $0.string("name") == "job" }) {
            return (try? connection.execute("SELECT 1 FROM \"\(table)\" WHERE job != ? LIMIT 1", [.text(job)]).isEmpty == false) ?? false
        }
        return (try? connection.execute("SELECT 1 FROM \"\(table)\" LIMIT 1").isEmpty == false) ?? false
    }
}
