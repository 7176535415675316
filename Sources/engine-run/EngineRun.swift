import ArgumentParser
import Foundation
import JobEngine

@main
struct EngineRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine-run",
        abstract: "Run job specs with checkpointed recovery, and retry their failed work items.",
        discussion: """
            The store is --db PATH, else $ENGINE_DB, else ./engine.sqlite.
            Exit codes: 0 all items succeeded, 1 some item failed, 2 usage or spec error (nothing written),
            130/143 stopped by SIGINT/SIGTERM (running items are left recoverable).
            """,
        subcommands: [Run.self, Check.self, Init.self, Items.self, Retry.self, Resume.self, Status.self, History.self, Cancel.self, Serve.self,
                      Prune.self])

    /// Maps every way out to the documented exit codes: usage errors are 2, not ArgumentParser's 64.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CommandFailure {
            if let message = failure.message { printError(message) }
            Foundation.exit(failure.code)
        } catch let error as EngineError {
            printError("error: \(error)")
            Foundation.exit(2)
        } catch let error as SQLiteError {
            printError("error: \(CommandFailure.describe(error))")
            Foundation.exit(error.isBusy ? 2 : 1)
        } catch {
            let code = exitCode(for: error)
            if code == .success || error is ExitCode { exit(withError: error) }
            printError(fullMessage(for: error))
            Foundation.exit(2)
        }
    }
}

/// A command's outcome other than success: the exit code and what to say on stderr.
struct CommandFailure: Error {
    let code: Int32
    let message: String?

    static func usage(_ message: String) -> CommandFailure { CommandFailure(code: 2, message: "error: \(message)") }
    static let itemsFailed = CommandFailure(code: 1, message: nil)

    static func describe(_ error: SQLiteError) -> String {
        error.isBusy
            ? "the store is locked by another process (SQLite busy after waiting 5 s): \(error.message); try again when it is free"
            : error.description
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
