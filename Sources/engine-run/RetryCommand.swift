import ArgumentParser
import Foundation
import JobEngine

extension RetryMode: ExpressibleByArgument {}
extension ErrorKind: ExpressibleByArgument {}

struct Retry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Retry failed or cancelled work items, then run them to completion.",
        discussion: """
            Prints {"total": N} first: the number of items whose retry started. Ids that are unknown or not
            failed/cancelled are skipped, each with its reason on stderr.
            --failed (and --cancelled) take every such item, narrowed by --job, --error-kind, --error-contains,
            --phase and --failed-since (all must hold); they are retried a few thousand per transaction.
              restart  clears the item's checkpoints and sink output and runs it from the beginning with the
                       job's current parameters.
              recover  resumes from the last checkpoint; after an ingest failure nothing is collected again.
            """)

    @OptionGroup var options: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("restart or recover.", valueName: "mode"))
    var type: RetryMode

    @Argument(help: ArgumentHelp("Work item ids (UUIDs).", valueName: "id"))
    var ids: [String] = []

    @Flag(name: .long, help: "Retry every failed item (narrowed by the options below) in addition to the listed ids.")
    var failed = false

    @Flag(name: .long, help: "Retry every cancelled item (narrowed by the options below) as well.")
    var cancelled = false

    @Option(name: .long, help: ArgumentHelp("With --failed/--cancelled: only this job's items.", valueName: "name-or-id"))
    var job: String?

    @Option(name: .long, help: ArgumentHelp("With --failed: only items that failed with this kind (\(ErrorKind.allCases.map(\.rawValue).joined(separator: ", "))).",
                                            valueName: "kind"))
    var errorKind: ErrorKind?

    @Option(name: .long, help: ArgumentHelp("With --failed/--cancelled: only items whose last error contains this text (any case).", valueName: "text"))
    var errorContains: String?

    @Option(name: .long, help: ArgumentHelp("With --failed/--cancelled: only items that stopped in this phase (collect or ingest).", valueName: "phase"))
    var phase: String?

    @Option(name: .long, help: ArgumentHelp("With --failed/--cancelled: only items that stopped at or after this time (2026-12-01T10:00Z, 2026-12-01, or an age: 2h).",
                                            valueName: "time"))
    var failedSince: String?

    @Flag(name: .long, help: "Only mark the items for retry; a serving worker or `engine-run resume` runs them.")
    var enqueue = false

    @Flag(name: .long, help: "Change nothing; say for each item whether a retry would start and what it would redo.")
    var dryRun = false

    @Flag(name: .long, help: "Print no progress lines.")
    var quiet = false

    func validate() throws {
        for id in ids where UUID(uuidString: id) == nil {
            throw ValidationError("'\(id)' is not a work item id: expected a UUID like 3f2b6c1e-8a4d-4e7f-9b0a-1c2d3e4f5a6b")
        }
        let bulk = failed || cancelled
        if ids.isEmpty && !bulk { throw ValidationError("give work item ids, or --failed (with --job, --error-kind … to narrow it)") }
        let narrowing: [(String, Bool)] = [("--job", job != nil), ("--error-kind", errorKind != nil), ("--error-contains", errorContains != nil),
                                           ("--phase", phase != nil), ("--failed-since", failedSince != nil)]
        if !bulk, let option = narrowing.first(where: \.1)?.0 { throw ValidationError("\(option) goes with --failed (or --cancelled)") }
        if errorKind != nil && !failed { throw ValidationError("--error-kind goes with --failed: cancelled items have no error kind") }
        if let phase, Phase(rawValue: phase) == nil || phase == Phase.done.rawValue {
            throw ValidationError("--phase \(phase) is not a phase an item stops in: give collect or ingest")
        }
        if let failedSince, TimeText.instant(failedSince) == nil {
            throw ValidationError("--failed-since \(failedSince) is not a time: give \(TimeText.instantForms)")
        }
        if errorContains?.isEmpty == true { throw ValidationError("--error-contains is empty: give the text to look for") }
        if enqueue && dryRun { throw ValidationError("--enqueue and --dry-run exclude each other") }
    }

    func run() async throws {
        let engine = try options.openEngine()
        let listed = ids.compactMap { UUID(uuidString: $0) }
        var jobID: UUID?
        if let job { jobID = try await resolveJob(job, in: engine).id }
        let bulk = failed || cancelled
        let filter = RetryFilter(jobID: jobID, statuses: Set([failed ? WorkItemStatus.failed : nil, cancelled ? .cancelled : nil].compactMap { $0 }),
                                 errorKind: errorKind, errorContains: errorContains, phase: phase.flatMap(Phase.init(rawValue:)),
                                 failedSince: failedSince.flatMap { TimeText.instant($0) })
        if dryRun {
            defer { engine.close() }
            var result = try await engine.retryPreview(listed, mode: type)
            if bulk { result = result.merged(with: try await engine.retryMatching(filter, mode: type, dryRun: true)) }
            try await preview(result, engine: engine)
            return
        }
        // Poison items among those about to start are called out once they did (a retry clears the kind).
        let crashLoops = try await crashLoopItems(listed, filter: bulk ? filter : nil, engine: engine)
        // The listed ids first, then every matching item in steps (those listed are pending by then).
        var result = try await engine.retry(listed, mode: type)
        if bulk { result = result.merged(with: try await engine.retryMatching(filter, mode: type)) }
        // Written straight to the descriptor so it is the first line even when stdout is a pipe.
        FileHandle.standardOutput.write(Data(#"{"total": \#(result.total)}"#.utf8 + [UInt8(ascii: "\n")]))
        for skipped in result.skipped {
            printError("skipped \(skipped.id.uuidString.lowercased()): \(skipped.reason)")
        }
        // Those that started (another retry may have started some first).
        let startedCrashLoops = crashLoops.filter(Set(result.started).contains).count
        if startedCrashLoops > 0 { printError(Self.crashLoopNote(startedCrashLoops)) }
        if enqueue || result.total == 0 {
            await engine.shutdown()
            return
        }
        var jobIDs: Set<UUID> = jobID.map { [$0] } ?? []
        if bulk && jobID == nil {
            jobIDs.formUnion(try await engine.jobStatuses().filter { ($0.counts[.pending] ?? 0) > 0 }.map(\.job.id))
        }
        for id in listed {
            if let item = try await engine.item(id) { jobIDs.insert(item.jobID) }
        }
        let started = Set(result.started)
        let execution = Execution(engine: engine, options: options, quiet: quiet)
        let summaries = try await execution.run(items: result.total) { try await engine.run(jobIDs: jobIDs.sorted { $0.uuidString < $1.uuidString }) }
        let retried = summaries.flatMap(\.items).filter { started.contains($0.id) }
        _ = execution.report(summaries.map { RunSummary(job: $0.job, items: $0.items.filter { started.contains($0.id) }) })
        if !retried.allSatisfy({ $0.status == .succeeded }) { throw CommandFailure.itemsFailed }
    }

    private func preview(_ result: RetryResult, engine: Engine) async throws {
        print(#"{"total": \#(result.total), "dry_run": true}"#)
        var crashLoops = 0
        for id in result.started {
            guard let item = try await engine.item(id) else { continue }
            let name = "\(id.uuidString.lowercased()) (\(terminalSafe(item.jobName))/\(terminalSafe(item.name)))"
            let poison = item.status == .failed && item.errorKind == .crashLoop
            if poison { crashLoops += 1 }
            let note = poison ? " [crash loop: its worker died running it again and again]" : ""
            switch type {
            case .recover:
                let resumesIn = item.phase == .collect
                    ? "collect after \(item.collected) staged documents"
                    : "ingest after \(item.ingested) of \(item.collected) documents delivered (nothing is collected again)"
                print("would recover \(name): resumes in \(resumesIn)\(note)")
            case .restart:
                print("would restart \(name): clears \(item.collected) staged and \(item.ingested) delivered documents and collects everything again\(note)")
            }
        }
        for skipped in result.skipped {
            print("would skip \(skipped.id.uuidString.lowercased()): \(skipped.reason)")
        }
        if crashLoops > 0 { printError(Self.crashLoopNote(crashLoops, wouldBe: true)) }
    }

    /// The listed items, and those `filter` matches, that are in a crash loop.
    private func crashLoopItems(_ listed: [UUID], filter: RetryFilter?, engine: Engine) async throws -> Set<UUID> {
        var poisoned: Set<UUID> = []
        for id in listed {
            if let item = try await engine.item(id), item.status == .failed, item.errorKind == .crashLoop { poisoned.insert(id) }
        }
        guard var filter, filter.statuses.contains(.failed), filter.errorKind == nil || filter.errorKind == .crashLoop else {
            return poisoned
        }
        // Along the index of failed items by kind: costs what is in a crash loop.
        filter.errorKind = .crashLoop
        filter.statuses = [.failed]
        return poisoned.union(try await engine.retryMatching(filter, mode: type, dryRun: true).started)
    }

    static func crashLoopNote(_ count: Int, wouldBe: Bool = false) -> String {
        let verb = wouldBe ? "would be" : count == 1 ? "was" : "were"
        return "note: \(count) of the items retried \(verb) in a crash loop (error kind crash_loop): their worker died "
            + "running them again and again (retry.max_recoveries), and a retry may take workers down again; "
            + "--error-kind with another kind leaves them out"
    }
}
