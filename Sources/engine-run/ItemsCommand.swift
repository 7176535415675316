import ArgumentParser
import Foundation
import JobEngine

extension WorkItemStatus: ExpressibleByArgument {}

struct Items: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List work items with their status and progress.")

    @OptionGroup var options: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("Only this job's items.", valueName: "name-or-id"))
    var job: String?

    @Option(name: .long, help: ArgumentHelp("Only items with this status: \(WorkItemStatus.allCases.map(\.rawValue).joined(separator: ", ")).",
                                            valueName: "status"))
    var status: WorkItemStatus?

    @Flag(name: .long, help: "Print a JSON array, one object per item.")
    var json = false

    func run() async throws {
        let engine = try options.openEngine(readOnly: true)
        defer { engine.close() }
        let items = try await items(inJob: job, status: status, of: engine)
        if json {
            print(try encodeJSON(items))
            return
        }
        print(Table.render(header: ["ID", "JOB", "ITEM", "STATUS", "PHASE", "ATTEMPT", "COLLECTED", "INGESTED", "COLLECTED_TOTAL", "ERROR"],
                           rows: items.map { item in
                               [item.id.uuidString.lowercased(), item.jobName, item.name, item.status.rawValue, item.phase.rawValue,
                                String(item.attempt), String(item.collected), String(item.ingested), String(item.collectedTotal),
                                item.lastError.map { "\(item.errorKind?.rawValue ?? "error"): \($0)" } ?? ""]
                           }))
    }
}

/// The items of the job named or identified by `job` (of every job when nil), optionally only those
/// with `status`.
func items(inJob job: String?, status: WorkItemStatus?, of engine: Engine) async throws -> [WorkItem] {
    guard let job else { return try await engine.allItems(status: status) }
    return try await engine.items(jobID: try await resolveJob(job, in: engine).id, status: status)
}

/// The job named or identified by `nameOrID`, or a usage error that says so.
func resolveJob(_ nameOrID: String, in engine: Engine) async throws -> Job {
    guard let job = try await engine.job(nameOrID) else {
        throw CommandFailure.usage("no job is named or has the id \"\(nameOrID)\" (see engine-run status)")
    }
    return job
}

func encodeJSON<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// Plain aligned columns for terminals.
enum Table {
    static func render(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows.map { $0.map(terminalSafe) }
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
