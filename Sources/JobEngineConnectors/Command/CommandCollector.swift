import Foundation
import JobEngine

/// Collects from a program, in any language: it finds the item in its environment (see
/// `CommandOptions`) and the cursor to resume from in `ENGINE_CURSOR` (unset on a first run), and
/// prints one JSON object per line: a document (`{"key": "…", "data": …}`, or any other object,
/// which is the document itself), or `{"cursor": "…"}`, which ends a page: the documents before
/// it are staged and the cursor checkpointed, in one transaction. Exit 0 ends the item's
/// collection (the documents after the last cursor are the last page); exit 75 is a transient
/// failure (recover starts the program again with the last cursor), any other status permanent.
/// Its stderr goes to the item's log.
///
/// A synchronous collector: it blocks its slot's own thread while it waits for the program.
final class CommandCollector: Collector {
    private let options: CommandOptions
    private let directory: URL
    private var child: ChildProcess?
    private static let component = "command collector"

    init(context: ComponentContext) throws {
        options = try context.read("collector", CommandOptions.init)
        directory = context.baseDirectory
    }

    func page(after cursor: String?, for item: ItemContext) throws -> Page {
        let child = try self.child ?? start(cursor, item: item)
        var documents: [Document] = []
        while let line = try child.readLine(timeout: Double(options.timeoutSeconds)) {
            guard !line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) else { continue }
            guard let value = try? JSONValue.parse(line), case .object(let object) = value else {
                throw PhaseError.permanent("\(Self.component): printed a line that is not a JSON object: \(VendorClient.excerpt(line))")
            }
            if object.count == 1, let next = object["cursor"] {
                guard case .string(let next) = next, !next.isEmpty else {
                    throw PhaseError.permanent("\(Self.component): a cursor must be a non-empty string, got \(VendorClient.excerpt(line))")
                }
                return Page(documents: documents, next: next)
            }
            let key = object["key"]?.stringValue ?? "\(cursor ?? "start")#\(documents.count)"
            let body = object.count <= 2 && object["data"] != nil ? object["data"]!.canonicalJSON() : line
            documents.append(Document(key: key, body: body))
        }
        try child.checkExit(timeout: Double(options.timeoutSeconds))
        self.child = nil
        return Page(documents: documents, next: nil)
    }

    private func start(_ cursor: String?, item: ItemContext) throws -> ChildProcess {
        var environment = try options.environment(for: item, component: Self.component)
        if let cursor { environment["ENGINE_CURSOR"] = cursor }
        let child = try ChildProcess(options.command, environment: environment, directory: directory, item: item, component: Self.component)
        child.closeInput()
        self.child = child
        return child
    }
}
