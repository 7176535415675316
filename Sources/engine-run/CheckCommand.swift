import ArgumentParser
import Foundation
import JobEngine
import JobEnginePostgres

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a job spec (JSON or YAML) and its items file, and print every problem, without opening any store.",
        discussion: """
            Exit code 0 when the spec is valid, 2 when it has problems (each printed with its field, and its
            line for YAML and for the items file). The store is only named, never opened: with --db or
            ENGINE_DB naming a PostgreSQL store, that store's rules apply (its postgres sink is known, jsonl
            sinks are refused); with an SQLite store, no sink may write the store's files.
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: ArgumentHelp("The job spec (.json, .yaml or .yml).", valueName: "spec"))
    var spec: String

    /// At most this many problems of an items file are printed (the count says how many there are).
    static let shownItemProblems = 100

    func run() async throws {
        let url = URL(fileURLWithPath: spec)
        let protected = PostgresLocation.isURL(options.storePath) ? ProtectedPaths() : ProtectedPaths.store(at: options.storePath)
        let job = try options.specRegistry.loadSpec(at: url, protecting: protected)
        var items = job.items.count
        if let file = ItemsFile(job, baseDirectory: url.deletingLastPathComponent().standardizedFileURL) {
            // As a submit reads it: line by line, each problem with its line, names unique.
            let lines = try file.lines()
            var problems: [SpecProblem] = []
            var names: [String: Int] = [:]
            items = 0
            while let (number, line) = try lines.next() {
                switch line {
                case .problem(let problem):
                    problems.append(problem)
                case .item(let item):
                    items += 1
                    if let first = names[item.name] {
                        problems.append(ItemsFile.problem(number, "name", "duplicate item name \"\(item.name)\" (also line \(first))"))
                    } else {
                        names[item.name] = number
                    }
                }
            }
            if items == 0 && problems.isEmpty { problems.append(SpecProblem(field: "items_file", message: "has no items")) }
            guard problems.isEmpty else {
                let shown = problems.prefix(Self.shownItemProblems).map { "  \($0)" }
                let more = problems.count > shown.count ? ["  … and \(problems.count - shown.count) more"] : []
                throw CommandFailure.usage((["the items file \(file.url.path) has \(problems.count) problem\(problems.count == 1 ? "" : "s"):"]
                    + shown + more).joined(separator: "\n"))
            }
        }
        let count = items == 1 ? "1 item" : "\(items) items"
        print("ok: \(terminalSafe(spec)) is a valid job spec: job \(terminalSafe(job.name)), \(count), collector \(job.collector.type), ingester \(job.ingester.type)")
    }
}
