import Foundation
import JobEngine

/// The reference workload: 100 items × 20 pages × 50 documents of 1 KiB, concurrency 4,
/// a checkpoint per page and per batch of 50, `synchronous=NORMAL`, WAL, the SQLite sink in its
/// own file, no per-document work. `Examples/bench-reference.json` is the same as a spec file.
public struct ReferenceWorkload: Sendable {
    public var items = 100
    public var pagesPerItem = 20
    public var pageSize = 50
    public var documentBytes = 1024
    public var concurrency = 4
    public var batchSize = 50

    public init() {}

    /// A smaller workload of the same shape, for CI smoke runs.
    public static var smoke: ReferenceWorkload {
        var workload = ReferenceWorkload()
        workload.items = 8
        workload.pagesPerItem = 4
        return workload
    }

    public var documentsPerItem: Int { pagesPerItem * pageSize }
    public var documents: Int { items * documentsPerItem }

    /// The workload as a job spec whose SQLite sink is `sinkPath`.
    public func spec(name: String = "bench-reference", sinkPath: String, sync: SyncMode = .normal) -> JobSpec {
        JobSpec(
            name: name, concurrency: concurrency, checkpoint: CheckpointSpec(sync: sync),
            collector: ComponentSpec(type: "synthetic", options: [
                "documents": .number(Double(documentsPerItem)), "page_size": .number(Double(pageSize)),
                "document_bytes": .number(Double(documentBytes)), "latency_ms": 0,
            ]),
            ingester: ComponentSpec(type: "sqlite", options: [
                "path": .string(sinkPath), "table": "documents", "batch_size": .number(Double(batchSize)),
            ]),
            items: (0..<items).map { ItemSpec(name: String(format: "item-%05d", $0)) })
    }
}

/// A fresh folder under the system's temporary directory, removed on deinit.
public final class ScratchDirectory: Sendable {
    public let url: URL
    private let owned: Bool

    public init(_ label: String) {
        owned = true
        url = FileManager.default.temporaryDirectory.appendingPathComponent("jobengine-bench-\(label)-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// An existing folder, kept when this value goes (another process's scratch folder).
    public init(adopting url: URL) {
        self.url = url
        owned = false
    }

    deinit { if owned { try? FileManager.default.removeItem(at: url) } }

    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}
