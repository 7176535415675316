import CSQLite
import Foundation
import Logging
import Testing

@testable import JobEngine

/// A fresh temporary folder, removed when the value is deinitialised.
final class TemporaryDirectory: Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("jobengine-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    var storePath: String { url.appendingPathComponent("engine.sqlite").path }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

/// Engines in tests log only errors worth reading: warnings about abandoned engines are expected.
let quietLogger: Logger = {
    var logger = Logger(label: "JobEngine.tests")
    logger.logLevel = .critical
    return logger
}()

/// A spec with the synthetic collector and the sink of choice.
func makeSpec(
    name: String = "job", items: [String] = ["q1"], documents: Int = 200, pageSize: Int = 50, batchSize: Int = 40,
    sink: String = "jsonl", maxAttempts: Int = 1, mode: RetryMode = .recover, faults: [FaultSpec] = [],
    concurrency: Int = 4, collector: String = "synthetic"
) -> JobSpec {
    let ingester: ComponentSpec = switch sink {
    case "sqlite": ComponentSpec(type: "sqlite", options: ["path": "sink.sqlite", "table": "documents", "batch_size": .number(Double(batchSize))])
    case "postgres": ComponentSpec(type: "postgres", options: ["table": "docs", "batch_size": .number(Double(batchSize))])
    default: ComponentSpec(type: sink, options: ["path": "out/{item}.jsonl", "batch_size": .number(Double(batchSize))])
    }
    return JobSpec(
        name: name, concurrency: concurrency,
        retry: RetrySpec(maxAttempts: maxAttempts, mode: mode, backoffMilliseconds: 10),
        collector: ComponentSpec(type: collector, options: [
            "documents": .number(Double(documents)), "page_size": .number(Double(pageSize)), "document_bytes": 64,
        ]),
        ingester: ingester, items: items.map { ItemSpec(name: $0) }, faults: faults)
}

/// The `seq` of every line of a JSONL sink file, in file order.
func jsonlSeqs(_ path: String) throws -> [Int] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    return try text.split(separator: "\n").map { line in
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        return try #require(object["seq"] as? Int)
    }
}

/// Rows of the SQLite sink as (item, seq).
func sqliteSinkRows(_ path: String) throws -> [(item: String, seq: Int)] {
    let connection = try Connection(path: path)
    return try connection.execute("SELECT item, seq FROM documents ORDER BY item, seq").map {
        ($0.string("item") ?? "", $0.int("seq"))
    }
}

@discardableResult
/// One query against a store file through a separate connection, as a user with sqlite3 would.
func query(_ path: String, _ sql: String, _ arguments: [SQLValue] = []) throws -> [Row] {
    try Connection(path: path).execute(sql, arguments)
}

/// Blocks a collector or ingester until opened; used to freeze an item mid-run deterministically.
final class Gate: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let reached = DispatchSemaphore(value: 0)
    private let isOpen: Locked<Bool>

    init(opened: Bool = false) {
        isOpen = Locked(opened)
    }

    /// Called by the component: signals arrival, then waits until `open()`.
    func pass() {
        reached.signal()
        if isOpen.withLock({ $0 }) { return }
        semaphore.wait()
        semaphore.signal()
    }

    func open() {
        isOpen.withLock { $0 = true }
        semaphore.signal()
    }

    /// Waits (off the cooperative pool) until a component reached the gate, or fails after `seconds`.
    /// The deadline is generous: under ThreadSanitizer, with every suite running at once on two
    /// cores, reaching the gate took longer than 10 s.
    func waitUntilReached(seconds: Double = 60) async throws {
        let reached = self.reached
        let arrived = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: reached.wait(timeout: .now() + seconds) == .success) }
        }
        try #require(arrived, "the gate was not reached within \(seconds) s")
    }
}

/// Claims the job's next runnable item for `engine` through the store directly, as a worker would,
/// without running it.
func claimDirectly(_ engine: Engine, jobID: UUID, leaseSeconds: Double = 30) throws -> ClaimedItem? {
    let version = try #require(try engine.store.job(jobID.uuidString)).specVersion
    guard case .claimed(let claim) = try engine.sqliteStore.claimNext(jobID: jobID, specVersion: version, owner: engine.owner,
                                                                  leaseSeconds: leaseSeconds, onClaim: { _ in }) else { return nil }
    return claim
}

extension Engine {
    /// The engine's store as the SQLite implementation, for tests that look inside it.
    var sqliteStore: Store { store as! Store }
}
