import ArgumentParser
import Foundation

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a commented starter job spec (YAML) that runs as it is.",
        discussion: "Refuses to replace a file that exists. Then: engine-run check job.yaml, engine-run run job.yaml.")

    @Argument(help: ArgumentHelp("Where to write it.", valueName: "path"))
    var path = "job.yaml"

    func run() throws {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw CommandFailure.usage("\(path) exists; give another path (engine-run init other.yaml) or move it away")
        }
        // Created exclusively (O_EXCL): a file that appears meanwhile is not overwritten either.
        do {
            try Data(StarterSpec.yaml.utf8).write(to: URL(fileURLWithPath: path), options: .withoutOverwriting)
        } catch {
            throw CommandFailure.usage("could not write \(path): \(error.localizedDescription)")
        }
        print("wrote \(path): check it with `engine-run check \(path)`, run it with `engine-run run \(path)`")
    }
}
