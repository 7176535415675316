import Foundation
import JobEngine
import Logging

/// The engine's side of each comparison. Every function builds its own store in a scratch folder
/// and returns measured seconds (wall clock), so a caller can put two figures of one run side by side.
public enum EngineWorkloads {
    static let logger: Logger = {
        var logger = Logger(label: "JobEngine.benchmarks")
        logger.logLevel = .critical
        return logger
    }()

    /// The reference workload through the engine. `inMemory` keeps the engine's state in an
    /// in-memory SQLite database (same code path, no store file); the sink is a file either way.
    public static func runReference(_ workload: ReferenceWorkload, in folder: ScratchDirectory, inMemory: Bool = false,
                                    sync: SyncMode = .normal) async throws -> (seconds: Double, transactions: Int, checkpoints: Int) {
        let engine = try Engine(storePath: inMemory ? ":memory:" : folder.path("engine.sqlite"), logger: logger)
        let job = try await engine.submit(workload.spec(sinkPath: folder.path("sink.sqlite"), sync: sync), baseDirectory: folder.url).job
        let start = Date()
        let summary = try await engine.run(jobID: job.id)
        let seconds = Date().timeIntervalSince(start)
        precondition(summary.allSucceeded, "the reference workload failed: \(summary.failed.first?.lastError ?? "?")")
        let statistics = engine.store.checkpointStatistics
        await engine.shutdown()
        return (seconds, statistics.transactions, statistics.checkpoints)
    }

    /// Where an item of `documents` fails: a fraction of its work (collect is the first half,
    /// ingest the second), in the phase given.
    public struct FailurePoint: Sendable, CustomStringConvertible {
        public let fraction: Double
        public let phase: Phase

        public init(fraction: Double, phase: Phase) {
            self.fraction = fraction
            self.phase = phase
        }

        /// The document whose page or batch fails.
        func document(of documents: Int) -> Int {
            phase == .collect
                ? min(documents - 1, Int(fraction * 2 * Double(documents)))
                : max(0, Int((fraction - 0.5) * 2 * Double(documents)))
        }

        public var description: String { "\(Int(fraction * 100))% (\(phase.rawValue))" }
    }

    public struct RetryComparison: Sendable {
        public let point: FailurePoint
        public let recoverSeconds: Double
        public let restartSeconds: Double
        /// Documents fetched from the source again by each mode.
        public let recollectedByRecover: Int
        public let recollectedByRestart: Int
        public var ratio: Double { recoverSeconds / restartSeconds }
    }

    /// One item of `documents` fails at `point`; the time to completion of `recover` and of
    /// `restart`, each from its own copy of the same failed state.
    public static func recoverVersusRestart(documents: Int, at point: FailurePoint) async throws -> RetryComparison {
        func failedItem(_ folder: ScratchDirectory) async throws -> (Engine, Job, UUID) {
            let engine = try Engine(storePath: folder.path("engine.sqlite"), logger: logger)
            let spec = JobSpec(
                name: "retry", concurrency: 1,
                collector: ComponentSpec(type: "synthetic", options: [
                    "documents": .number(Double(documents)), "page_size": 50, "document_bytes": 1024,
                ]),
                ingester: ComponentSpec(type: "sqlite", options: ["path": "sink.sqlite", "batch_size": 50]),
                items: [ItemSpec(name: "big")],
                faults: [FaultSpec(item: "big", phase: point.phase, atDocument: point.document(of: documents), message: "outage")])
            let job = try await engine.submit(spec, baseDirectory: folder.url).job
            let item = try await engine.run(jobID: job.id).items[0]
            precondition(item.status == .failed, "the injected fault did not fail the item")
            return (engine, job, item.id)
        }
        func complete(_ mode: RetryMode) async throws -> (Double, Int) {
            let folder = ScratchDirectory("retry")
            let (engine, job, id) = try await failedItem(folder)
            let start = Date()
            _ = try await engine.retry([id], mode: mode)
            let item = try await engine.run(jobID: job.id).items[0]
            let seconds = Date().timeIntervalSince(start)
            precondition(item.status == .succeeded)
            await engine.shutdown()
            return (seconds, item.collectedTotal - documents)
        }
        let (recover, recollectedByRecover) = try await complete(.recover)
        let (restart, recollectedByRestart) = try await complete(.restart)
        return RetryComparison(point: point, recoverSeconds: recover, restartSeconds: restart,
                               recollectedByRecover: recollectedByRecover, recollectedByRestart: recollectedByRestart)
    }
}
