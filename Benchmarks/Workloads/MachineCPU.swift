import Foundation

/// The machine's CPU time, from `/proc/stat`: how busy all its cores were over a measurement. A
/// scaling figure means little without it (two worker processes cannot do twice the work of one
/// that already keeps every core busy).
public struct MachineCPU: Sendable {
    let busy: Double
    let total: Double

    /// The counters now (zeros where `/proc/stat` cannot be read).
    public static func now() -> MachineCPU {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return MachineCPU(busy: 0, total: 0) }
        // user nice system idle iowait irq softirq steal …: idle and iowait are the not-busy time.
        let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        let total = fields.prefix(8).reduce(0, +)
        let idle = fields.count > 4 ? fields[3] + fields[4] : total
        return MachineCPU(busy: total - idle, total: total)
    }

    /// The share of all cores' time that was busy since `start` (0…1).
    public func busyFraction(since start: MachineCPU) -> Double {
        let total = self.total - start.total
        return total > 0 ? (busy - start.busy) / total : 0
    }
}
