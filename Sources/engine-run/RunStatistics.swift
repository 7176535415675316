import Foundation
import JobEngine

/// `run --stats-json`: one line an external harness can compare with other tools on the same
/// workload.
struct RunStatistics {
    private let started = Date()
    private let collectedBefore: Int
    private let ingestedBefore: Int
    private let bytesWrittenBefore: Int

    init(before items: [WorkItem]) {
        collectedBefore = items.map(\.collectedTotal).reduce(0, +)
        ingestedBefore = items.map(\.ingested).reduce(0, +)
        bytesWrittenBefore = Self.bytesWritten()
    }

    func json(after summary: RunSummary, checkpoints: (transactions: Int, checkpoints: Int)) throws -> String {
        let wall = Date().timeIntervalSince(started)
        let collected = summary.items.map(\.collectedTotal).reduce(0, +) - collectedBefore
        let ingested = summary.items.map(\.ingested).reduce(0, +) - ingestedBefore
        let object: [String: JSONValue] = [
            "job": .string(summary.job.name),
            "items": .number(Double(summary.items.count)),
            "succeeded": .number(Double(summary.succeeded.count)),
            "failed": .number(Double(summary.failed.count)),
            "wall_seconds": .number((wall * 1000).rounded() / 1000),
            "documents_collected": .number(Double(collected)),
            "documents_ingested": .number(Double(ingested)),
            "documents_per_second": .number(wall > 0 ? (Double(ingested) / wall).rounded() : 0),
            "checkpoint_commits": .number(Double(checkpoints.transactions)),
            "checkpoints": .number(Double(checkpoints.checkpoints)),
            "bytes_written": .number(Double(Self.bytesWritten() - bytesWrittenBefore)),
            "peak_memory_bytes": .number(Double(PeakMemory.bytes())),
        ]
        return String(decoding: JSONValue.object(object).canonicalJSON(), as: UTF8.self)
    }

    /// Bytes this process wrote through write(2) and friends so far (`wchar` of /proc/self/io):
    /// store, WAL and sink files alike. 0 where /proc is not available.
    static func bytesWritten() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/io", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("wchar:") {
            return Int(line.dropFirst("wchar:".count).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        return 0
    }
}
