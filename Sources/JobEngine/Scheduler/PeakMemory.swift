import Foundation

/// The process's peak resident memory.
package enum PeakMemory {
    /// `VmHWM` of /proc/self/status, in bytes. Not `getrusage`'s `ru_maxrss`: Linux carries that
    /// across execve, so a process spawned by a large parent would report the parent's peak.
    /// Falls back to `ru_maxrss` where /proc is not available.
    package static func bytes() -> Int {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) {
            for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
                let kilobytes = line.dropFirst("VmHWM:".count).split(separator: " ").first.flatMap { Int($0) }
                if let kilobytes { return kilobytes * 1024 }
            }
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        #if os(Linux)
        return usage.ru_maxrss * 1024  // kilobytes on Linux
        #else
        return usage.ru_maxrss  // bytes on macOS
        #endif
    }
}
