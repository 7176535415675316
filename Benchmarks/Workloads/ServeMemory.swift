import Foundation
import JobEngine
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The resident memory of a real `engine-run serve` on a large store while the Jobs page's reads
/// hit it: what an operator's dashboard costs the server over a day of polling.
public enum ServeMemory {
    public struct Result: Sendable {
        /// VmRSS after the first 100 requests (warm) and after all of them.
        public let warmBytes: Int
        public let finalBytes: Int
        public let requests: Int
    }

    /// Starts `engineRun serve` on the store at `storePath`, sends `requests` GETs cycling through
    /// the job list, the job, a page of its items from the middle and a page of failed items, and
    /// reads the server's VmRSS from /proc.
    public static func measure(engineRun: URL, storePath: String, jobID: UUID, requests: Int) async throws -> Result {
        let server = Process()
        server.executableURL = engineRun
        server.arguments = ["serve", "--db", storePath, "--port", "0", "--insecure-no-auth", "--poll-seconds", "1"]
        let output = Pipe()
        server.standardOutput = output
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        let base = try baseURL(from: output.fileHandleForReading)
        let job = jobID.uuidString.lowercased()
        let paths = ["api/pipelines/jobs", "api/pipelines/jobs/\(job)", "api/pipelines/jobs/\(job)/work-items?limit=100&cursor=500000",
                     "api/pipelines/jobs/\(job)/work-items?limit=100&status=failed"]
        var warm = 0
        for index in 0..<requests {
            let url = URL(string: base + paths[index % paths.count])!
            let (_, response) = try await URLSession.shared.data(from: url)
            guard (response as? HTTPURLResponse)?.statusCode == 200 else {
                throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "GET \(url) answered \(response)"])
            }
            if index == 99 { warm = PeakMemory.residentBytes(ofProcess: server.processIdentifier) ?? 0 }
        }
        return Result(warmBytes: warm, finalBytes: PeakMemory.residentBytes(ofProcess: server.processIdentifier) ?? 0,
                      requests: requests)
    }

    /// The `http://host:port/` the server prints once it listens.
    private static func baseURL(from handle: FileHandle) throws -> String {
        var seen = ""
        while let chunk = try handle.read(upToCount: 1), !chunk.isEmpty {
            seen += String(decoding: chunk, as: UTF8.self)
            if seen.hasSuffix("\n"), let range = seen.range(of: #"http://[^/ ]+/"#, options: .regularExpression) {
                return String(seen[range])
            }
        }
        throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "engine-run serve printed no address: \(seen)"])
    }
}
