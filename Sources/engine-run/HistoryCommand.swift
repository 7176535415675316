import ArgumentParser
import Foundation
import JobEngine

struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a work item's history: attempts, retry modes, errors, timestamps.")

    @OptionGroup var options: GlobalOptions

    @Argument(help: ArgumentHelp("The work item id (UUID).", valueName: "id"))
    var id: String

    @Flag(name: .long, help: "Print a JSON array, one object per event.")
    var json = false

    func validate() throws {
        if UUID(uuidString: id) == nil {
            throw ValidationError("'\(id)' is not a work item id: expected a UUID like 3f2b6c1e-8a4d-4e7f-9b0a-1c2d3e4f5a6b")
        }
    }

    func run() async throws {
        let engine = try options.openEngine(readOnly: true)
        defer { engine.close() }
        let itemID = UUID(uuidString: id)!
        guard let item = try await engine.item(itemID) else {
            throw CommandFailure.usage("no work item has the id \(id) (see engine-run items)")
        }
        let events = try await engine.history(itemID: itemID)
        if json {
            print(try encodeJSON(events))
            return
        }
        print("\(terminalSafe(item.jobName))/\(terminalSafe(item.name)) \(item.id.uuidString.lowercased()): \(item.status.rawValue), attempt \(item.attempt), collected_total \(item.collectedTotal), not_collected_again \(item.notCollectedAgain)")
        let formatter = ISO8601DateFormatter()
        for event in events {
            var line = "\(formatter.string(from: event.at))  attempt \(event.attempt)  \(event.from?.rawValue ?? "(created)") -> \(event.to.rawValue)"
            if let mode = event.mode { line += "  [\(mode.rawValue)]" }
            if let error = event.error.map(terminalSafe) {
                // A failure shows its kind; a note on another transition (why a claim restarted) shows as is.
                line += event.to == .failed || event.errorKind != nil ? "  \(event.errorKind?.rawValue ?? "error"): \(error)" : "  — \(error)"
            }
            print(line)
        }
    }
}
