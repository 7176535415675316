import Foundation
import JobEngine

/// Runs jobs the way every command does: with progress output, with SIGINT/SIGTERM stopping
/// gracefully, and with the store closed cleanly at the end.
struct Execution {
    let engine: Engine
    let options: GlobalOptions
    let quiet: Bool

    /// Runs `work`, then shuts the engine down. A signal during the run ends the process with
    /// 128 + the signal's number once running items have checkpointed.
    func run<T: Sendable>(items total: Int, _ work: () async throws -> T) async throws -> T {
        let trap = SignalTrap(engine: engine)
        let progress = quiet ? nil : ProgressReporter(engine: engine, total: total)
        let result: T
        do {
            result = try await work()
        } catch {
            progress?.finish()
            await engine.shutdown()
            throw error
        }
        progress?.finish()
        await engine.shutdown()
        if let signal = trap.receivedSignal {
            printError("engine-run: stopped by signal \(signal); items that were running are failed (interrupted) and recoverable:")
            printError("  engine-run resume\(options.storeArgument)")
            throw CommandFailure(code: 128 + signal, message: nil)
        }
        return result
    }

    /// Prints how the runs ended and the command that retries what failed (on stderr when stdout
    /// is reserved for machine-readable output). Returns true when every item succeeded.
    func report(_ summaries: [RunSummary], toStandardError: Bool = false) -> Bool {
        func print(_ line: String) {
            if toStandardError { printError(line) } else { Swift.print(line) }
        }
        var failedIDs: [String] = []
        for summary in summaries {
            let counts = Dictionary(grouping: summary.items, by: \.status).mapValues(\.count)
            let parts = WorkItemStatus.allCases.compactMap { status in counts[status].map { "\($0) \(status.rawValue)" } }
            print("job \(terminalSafe(summary.job.name)) (version \(summary.job.specVersion)): \(summary.items.count) item\(summary.items.count == 1 ? "" : "s"), \(parts.joined(separator: ", "))")
            for item in summary.items where item.status != .succeeded {
                let error = item.lastError.map { " — \(item.errorKind?.rawValue ?? "error"): \(terminalSafe($0))" } ?? ""
                print("  \(item.status.rawValue) \(terminalSafe(item.name)) \(item.id.uuidString.lowercased()) in \(item.phase.rawValue), collected \(item.collected), ingested \(item.ingested)\(error)")
                if item.status.isRetryable { failedIDs.append(item.id.uuidString.lowercased()) }
            }
        }
        if !failedIDs.isEmpty {
            let ids = failedIDs.joined(separator: " ")
            print("retry them (recover resumes from the last checkpoint; restart runs them again from scratch):")
            print("  engine-run retry\(options.storeArgument) --type recover \(ids)")
            print("  engine-run retry\(options.storeArgument) --type restart \(ids)")
        }
        return summaries.allSatisfy(\.allSucceeded)
    }
}
