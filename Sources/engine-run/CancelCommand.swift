import ArgumentParser
import Foundation
import JobEngine

struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cancel a job: pending items become cancelled; running items stop at their next checkpoint.",
        discussion: "Cancelled items keep their checkpoints and can be retried later with either mode.")

    @OptionGroup var options: GlobalOptions

    @Argument(help: ArgumentHelp("The job's name or id.", valueName: "job"))
    var job: String

    func run() async throws {
        let engine = try options.openEngine()
        defer { engine.close() }
        let found = try await resolveJob(job, in: engine)
        let cancelled = try await engine.cancel(jobID: found.id)
        let running = try await engine.jobStatus(found.id)?.counts[.running] ?? 0
        print("job \(terminalSafe(found.name)) cancelled: \(cancelled) pending item(s) cancelled, \(running) running item(s) stop at their next checkpoint")
    }
}
