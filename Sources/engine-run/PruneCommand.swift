import ArgumentParser
import Foundation
import JobEngine

struct Prune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove finished jobs (every item succeeded or cancelled) not changed for a while, with their items and history.",
        discussion: "What the jobs delivered stays in their sinks. Jobs with a failed, pending or running item are kept. Removed a few thousand items per transaction.")

    @OptionGroup var options: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("How long a job must have been finished: 30d, 12h, 45m or 90s.", valueName: "age"))
    var olderThan: String

    @Flag(name: .long, help: "Only list what would be removed.")
    var dryRun = false

    func validate() throws {
        guard TimeText.age(olderThan) != nil else {
            throw ValidationError("--older-than \(olderThan) is not an age: give a positive whole number and a unit, e.g. 30d, 12h, 45m or 90s")
        }
    }

    func run() async throws {
        guard let age = TimeText.age(olderThan) else { return }
        let engine = try options.openEngine()
        defer { engine.close() }
        let result = try await engine.prune(finishedFor: age, dryRun: dryRun)
        let verb = dryRun ? "would remove" : "removed"
        print("\(verb) \(result.jobs.count) finished job(s) with \(result.items) item(s)")
        for name in result.jobs { print("  \(terminalSafe(name))") }
    }
}
