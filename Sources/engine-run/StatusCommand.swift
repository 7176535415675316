import ArgumentParser
import Foundation
import JobEngine

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Jobs with item counts per status, documents collected and ingested, and time since last progress.")

    @OptionGroup var options: GlobalOptions

    @Flag(name: .long, help: "Print a JSON array, one object per job.")
    var json = false

    func run() async throws {
        let engine = try options.openEngine(readOnly: true)
        defer { engine.close() }
        let now = Date()
        let statuses = try await engine.jobStatuses()
        if json {
            print(try encodeJSON(statuses))
            return
        }
        if statuses.isEmpty {
            print("no jobs in \(options.storeDisplay)")
            return
        }
        let header = ["JOB", "VERSION", "STATE"] + WorkItemStatus.allCases.map { $0.rawValue.uppercased() }
            + ["COLLECTED", "INGESTED", "LAST PROGRESS"]
        let rows = statuses.map { status -> [String] in
            let counts: [String] = WorkItemStatus.allCases.map { String(status.counts[$0] ?? 0) }
            let progress = status.secondsSinceProgress(now: now).map { ProgressReporter.duration($0) + " ago" } ?? "never"
            return [status.job.name, String(status.job.specVersion), status.state.rawValue] + counts
                + [String(status.collected), String(status.ingested), progress]
        }
        print(Table.render(header: header, rows: rows))
    }
}
