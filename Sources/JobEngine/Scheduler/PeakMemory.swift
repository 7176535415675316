import Foundation

/// The process's peak resident memory.
package enum PeakMemory {
    /// `VmHWM` of /proc/self/status, in bytes. Not `getrusage`'s `ru_maxrss`: Linux carries that
    /// across execve, so a process spawned by a large parent would report the parent's peak.
    /// Falls back to `ru_maxrss` where /proc is not available.
    package static func bytes() -> Int {
        if let bytes = statusBytes("VmHWM", process: "self") { return bytes }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        #if os(Linux)
        return usage.ru_maxrss * 1024  // kilobytes on Linux
        #else
        return usage.ru_maxrss  // bytes on macOS
        #endif
    }

    /// `VmRSS` of another process (/proc/<pid>/status), in bytes; nil where it cannot be read.
    package static func residentBytes(ofProcess pid: Int32) -> Int? {
        statusBytes("VmRSS", process: String(pid))
    }

    /// A memory field of /proc/<process>/status ("VmHWM:\t    1234 kB"), in bytes. The value follows
    /// a tab and spaces: split on spaces alone, the first piece was the tab and never parsed (so
    /// `bytes()` always fell back to `ru_maxrss`).
    private static func statusBytes(_ field: String, process: String) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(process)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
            if let kilobytes = line.dropFirst(field.count + 1).split(whereSeparator: \.isWhitespace).first.flatMap({ Int($0) }) {
                return kilobytes * 1024
            }
        }
        return nil
    }
}
