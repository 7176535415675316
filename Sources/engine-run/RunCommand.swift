import ArgumentParser
import Foundation
import JobEngine
import JobEngineConnectors

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a job spec, record it, and run its items to completion.",
        discussion: """
            Running a spec whose name is already known records it as the job's next version and runs the
            items not yet succeeded: failed ones continue per retry.mode, except those whose parameters
            changed, which restart.
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: ArgumentHelp("The job spec (.json, .yaml or .yml).", valueName: "spec"))
    var spec: String

    @Flag(name: .long, help: "Print no progress lines.")
    var quiet = false

    @Flag(name: .long, help: "Print one JSON line of run statistics on stdout (the summary goes to stderr).")
    var statsJSON = false

    @Flag(name: .long, help: "Only record the spec and queue its items; a serving worker (engine-run serve) or engine-run resume runs them.")
    var enqueue = false

    func validate() throws {
        if enqueue && statsJSON { throw ValidationError("--enqueue runs nothing, so it has no --stats-json") }
    }

    func run() async throws {
        let url = URL(fileURLWithPath: spec)
        // Validate before the store is opened, so a bad spec leaves no trace, not even a new store file.
        _ = try options.specRegistry.loadSpec(at: url)
        let engine = try options.openEngine()
        let submitted = try await engine.submit(specAt: url)
        let job = submitted.job
        let report = submitted.created ? nil : try await engine.continueUnfinished(jobID: job.id)
        if let report {
            print("job \(terminalSafe(job.name)): recorded spec version \(job.specVersion)")
            for name in submitted.addedItems { print("  \(terminalSafe(name)): new item") }
            if submitted.addedCount > submitted.addedItems.count {
                print("  … and \(submitted.addedCount - submitted.addedItems.count) more new items")
            }
            try await Self.printEach(report.continued, engine: engine, saying: "continuing with \(job.spec.retry.mode.rawValue)")
            try await Self.printEach(report.restarted, engine: engine, saying: "parameters changed; restarting from scratch")
        }
        // The job's counters, not its items: a job of a million items is queued without reading them.
        let pending = try await engine.jobStatus(job.id)?.counts[.pending] ?? 0
        if enqueue {
            engine.close()
            print("job \(terminalSafe(job.name)) (\(job.id.uuidString.lowercased())): \(pending) work item(s) queued for a worker")
            return
        }
        let execution = Execution(engine: engine, options: options, quiet: quiet)
        let statistics = RunStatistics(before: try await engine.items(jobID: job.id))
        let summary = try await execution.run(items: pending) { try await engine.run(jobID: job.id) }
        if statsJSON {
            print(try statistics.json(after: summary, checkpoints: engine.checkpointStatistics))
        }
        if !execution.report([summary], toStandardError: statsJSON) { throw CommandFailure.itemsFailed }
    }

    /// One line per item (the first 20, then a count): what happened to it.
    private static func printEach(_ ids: [UUID], engine: Engine, saying what: String) async throws {
        for id in ids.prefix(20) {
            print("  \(terminalSafe(try await engine.item(id)?.name ?? "?")): \(what)")
        }
        if ids.count > 20 { print("  … and \(ids.count - 20) more items: \(what)") }
    }
}
