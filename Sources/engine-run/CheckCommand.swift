import ArgumentParser
import Foundation
import JobEngine

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a job spec (JSON or YAML) and print every problem, without opening any store.",
        discussion: """
            Exit code 0 when the spec is valid, 2 when it has problems (each printed with its field, and its
            line for YAML). With --db or ENGINE_DB naming a PostgreSQL store, the rules of that store apply
            (its postgres sink is known, jsonl sinks are refused); the store itself is not contacted.
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: ArgumentHelp("The job spec (.json, .yaml or .yml).", valueName: "spec"))
    var spec: String

    func run() async throws {
        let url = URL(fileURLWithPath: spec)
        let job = try options.specRegistry.loadSpec(at: url)
        let items = job.items.count == 1 ? "1 item" : "\(job.items.count) items"
        print("ok: \(terminalSafe(spec)) is a valid job spec: job \(terminalSafe(job.name)), \(items), collector \(job.collector.type), ingester \(job.ingester.type)")
    }
}
