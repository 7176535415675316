import ArgumentParser
import Foundation
import JobEngine

struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "After a crash: recover items whose worker died, and run pending and queued items.",
        discussion: """
            Items left running by a dead worker are marked failed (interrupted) and recovered; an
            interruption does not count against retry.max_attempts. Items whose parameters changed since
            their checkpoints restart instead. Then every job with pending items runs to completion.
            """)

    @OptionGroup var options: GlobalOptions

    @Flag(name: .long, help: "Print no progress lines.")
    var quiet = false

    func run() async throws {
        let engine = try options.openEngine()
        // Counters and an index of the interrupted items: nothing here reads a job's other items.
        let pending = try await engine.jobStatuses().map { $0.counts[.pending] ?? 0 }.reduce(0, +)
        let interrupted = try await engine.interruptedItemCount()
        let execution = Execution(engine: engine, options: options, quiet: quiet)
        let report = try await execution.run(items: pending + interrupted) { try await engine.resume() }
        print("resume: \(report.interrupted.count) item(s) of dead workers marked interrupted; recovering \(report.recovered.count), restarting \(report.restarted.count) (parameters changed); \(report.runs.count) job(s) ran")
        if !execution.report(report.runs) { throw CommandFailure.itemsFailed }
    }
}
