import Foundation
import JobEngine
import PlainSQLiteLoop

/// The reference workload held against the plainest way to write its rows: a C loop over SQLite
/// (`Benchmarks/PlainLoop/plain_loop.c`), and `engine-run run` timed as a whole process, start to
/// exit, the way an operator meets it.
public enum PlainLoopComparison {
    /// Documents per second of the plain C loop (each document counted once, though it writes it
    /// twice: staged and sunk).
    public static func plainDocumentsPerSecond(_ workload: ReferenceWorkload, in folder: ScratchDirectory) throws -> Double {
        let seconds = plain_sqlite_loop(folder.path("plain-store.sqlite"), folder.path("plain-sink.sqlite"), Int32(workload.items),
                                        Int32(workload.documentsPerItem), Int32(workload.documentBytes), Int32(workload.pageSize))
        guard seconds > 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "the plain SQLite loop failed"]) }
        return Double(workload.documents) / seconds
    }

    /// Documents per second of `engineRun run SPEC --quiet` on the reference spec, whole process.
    public static func engineRunDocumentsPerSecond(_ workload: ReferenceWorkload, engineRun: URL, in folder: ScratchDirectory) throws -> Double {
        let spec = workload.spec(sinkPath: "out/bench-reference.sqlite")
        try Data(spec.jsonValue.canonicalJSON()).write(to: folder.url.appendingPathComponent("spec.json"))
        let process = Process()
        process.executableURL = engineRun
        process.arguments = ["run", "spec.json", "--quiet", "--db", "engine.sqlite"]
        process.currentDirectoryURL = folder.url
        process.standardOutput = FileHandle.nullDevice
        let start = Date()
        try process.run()
        process.waitUntilExit()
        let seconds = Date().timeIntervalSince(start)
        guard process.terminationStatus == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "engine-run run exited with \(process.terminationStatus)"])
        }
        return Double(workload.documents) / seconds
    }
}
