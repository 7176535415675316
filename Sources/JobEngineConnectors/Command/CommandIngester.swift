import Foundation
import JobEngine

/// Delivers to a program, in any language, started once per item run with the item in its
/// environment (see `CommandOptions`). Each batch is one line on its stdin,
/// `{"idempotency_key": "…", "item": "…", "documents": [{"seq": 0, "key": "…", "data": …}, …]}`,
/// and the program acknowledges it with a line `{"ack": "<the same key>"}` on its stdout once the
/// batch is safely stored (other lines are ignored); the batch's checkpoint follows the ack. After
/// a crash a batch may come again with the same key: a program that remembers keys makes delivery
/// exactly-once. The end of its stdin ends the item; it should then exit 0 (75: transient failure).
final class CommandIngester: Ingester {
    private let options: CommandOptions
    private let directory: URL
    private var child: ChildProcess?
    private static let component = "command ingester"

    init(context: ComponentContext) throws {
        options = try context.read("ingester", CommandOptions.init)
        directory = context.baseDirectory
    }

    func ingest(_ batch: Batch) throws -> Int64? {
        let child = try self.child ?? ChildProcess(options.command, environment: try options.environment(for: batch.item, component: Self.component),
                                                   directory: directory, item: batch.item, component: Self.component)
        self.child = child
        let documents = batch.documents.map { document in
            JSONValue.object([
                "seq": .number(Double(document.seq)), "key": .string(document.document.key),
                "data": (try? JSONValue.parse(document.document.body)) ?? .string(String(decoding: document.document.body, as: UTF8.self)),
            ])
        }
        let key = DeliveryKey.of(batch)
        let timeout = Double(options.timeoutSeconds)
        let write = child.writeInBackground(
            JSONValue.object(["idempotency_key": .string(key), "item": .string(batch.item.itemName), "documents": .array(documents)])
                .canonicalJSON())
        while let line = try child.readLine(timeout: timeout) {
            if let value = try? JSONValue.parse(line), value["ack"]?.stringValue == key {
                // Acknowledged: the program read the whole line, so the write has ended.
                if let failure = write.wait(seconds: timeout) { throw PhaseError.transient("\(Self.component): \(failure)") }
                return nil
            }
        }
        // Its stdout ended without the ack: it exited (or will; its status says why).
        _ = write.wait(seconds: 2)
        try child.checkExit(timeout: timeout)
        throw PhaseError.transient("\(Self.component): the program ended without acknowledging batch \(key)")
    }

    func finish(for item: ItemContext) {
        guard let child else { return }
        self.child = nil
        do {
            try child.finish(timeout: Double(options.timeoutSeconds))
        } catch {
            item.logger.warning("\(Self.component): \(error)")
        }
    }
}
