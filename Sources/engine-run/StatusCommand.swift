import ArgumentParser
import Foundation
import JobEngine

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Jobs with item counts per status, documents collected and ingested, and time since last progress.")

    @OptionGroup var options: GlobalOptions

    @Flag(name: .long, help: "Print a JSON array, one object per job.")
    var json = false

    struct Entry: Encodable {
        let id: String
        let name: String
        let specVersion: Int
        let state: String
        let items: [String: Int]
        let collected: Int
        let ingested: Int
        let collectedTotal: Int
        let lastProgress: String?
        let secondsSinceProgress: Double?

        enum CodingKeys: String, CodingKey {
            case id, name, specVersion = "spec_version", state, items, collected, ingested
            case collectedTotal = "collected_total", lastProgress = "last_progress", secondsSinceProgress = "seconds_since_progress"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(name, forKey: .name)
            try container.encode(specVersion, forKey: .specVersion)
            try container.encode(state, forKey: .state)
            try container.encode(items, forKey: .items)
            try container.encode(collected, forKey: .collected)
            try container.encode(ingested, forKey: .ingested)
            try container.encode(collectedTotal, forKey: .collectedTotal)
            try container.encode(lastProgress, forKey: .lastProgress)
            try container.encode(secondsSinceProgress, forKey: .secondsSinceProgress)
        }
    }

    func run() async throws {
        let engine = try options.openEngine()
        defer { engine.close() }
        let now = Date()
        let entries = try engine.store.jobStatuses().map { status in
            let counts = Dictionary(uniqueKeysWithValues: WorkItemStatus.allCases.map { ($0.rawValue, status.counts[$0] ?? 0) })
            let state = status.job.cancelled ? "cancelled"
                : (status.counts[.running] ?? 0) > 0 || (status.counts[.pending] ?? 0) > 0 ? "active"
                : (status.counts[.failed] ?? 0) > 0 || (status.counts[.cancelled] ?? 0) > 0 ? "needs attention" : "done"
            return Entry(id: status.job.id.uuidString.lowercased(), name: status.job.name, specVersion: status.job.specVersion,
                         state: state, items: counts, collected: status.collected, ingested: status.ingested,
                         collectedTotal: status.collectedTotal,
                         lastProgress: status.lastProgress.map { ISO8601DateFormatter().string(from: $0) },
                         secondsSinceProgress: status.lastProgress.map { (now.timeIntervalSince($0) * 10).rounded() / 10 })
        }
        if json {
            print(try encodeJSON(entries))
            return
        }
        if entries.isEmpty {
            print("no jobs in \(options.storePath)")
            return
        }
        print(Table.render(
            header: ["JOB", "VERSION", "STATE"] + WorkItemStatus.allCases.map { $0.rawValue.uppercased() }
                + ["COLLECTED", "INGESTED", "LAST PROGRESS"],
            rows: entries.map { entry in
                [entry.name, String(entry.specVersion), entry.state] + WorkItemStatus.allCases.map { String(entry.items[$0.rawValue] ?? 0) }
                    + [String(entry.collected), String(entry.ingested),
                       entry.secondsSinceProgress.map { ProgressReporter.duration($0) + " ago" } ?? "never"]
            }))
    }
}
