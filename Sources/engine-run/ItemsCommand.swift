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
        let jobs = if let job { [try await resolveJob(job, in: engine)] } else { try await engine.jobs() }
        // Streamed a page at a time: a job of a million items is never held in memory, and the
        // first lines appear at once. The table's columns are as wide as each page needs.
        var first = true
        if json { print("[", terminator: "") }
        for job in jobs {
            var after: Int?
            repeat {
                let page = try await engine.itemsPage(jobID: job.id, status: status, after: after, limit: 1_000)
                after = page.nextAfter
                guard !page.items.isEmpty else { continue }
                if json {
                    let objects = try page.items.map { try encodeJSON($0) }.joined(separator: ",")
                    print((first ? "" : ",") + objects, terminator: "")
                } else {
                    print(Table.render(header: first ? Self.header : nil, rows: page.items.map(Self.row)))
                }
                first = false
            } while after != nil
        }
        if json {
            print("]")
        } else if first {
            print(Table.render(header: Self.header, rows: []))
        }
    }

    static let header = ["ID", "JOB", "ITEM", "STATUS", "PHASE", "ATTEMPT", "COLLECTED", "INGESTED", "COLLECTED_TOTAL", "NOT_COLLECTED_AGAIN",
                         "ERROR"]

    static func row(_ item: WorkItem) -> [String] {
        [item.id.uuidString.lowercased(), item.jobName, item.name, item.status.rawValue, item.phase.rawValue,
         String(item.attempt), String(item.collected), String(item.ingested), String(item.collectedTotal),
         String(item.notCollectedAgain),
         item.lastError.map { "\(item.errorKind?.rawValue ?? "error"): \($0)" } ?? ""]
    }
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
    static func render(header: [String]?, rows: [[String]]) -> String {
        let all = (header.map { [$0] } ?? []) + rows.map { $0.map(terminalSafe) }
        guard let columns = all.first?.indices else { return "" }
        let widths = columns.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
