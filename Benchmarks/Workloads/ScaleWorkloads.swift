import CSQLite
import Foundation
import JobEngine

/// Jobs of many items (issue 12): a submit streamed from an items file, the reads the Jobs page
/// polls, and a bulk retry, each at the item count given.
public enum ScaleWorkloads {
    /// Writes an items file of `count` lines, each with a small params object.
    public static func writeItemsFile(_ count: Int, to path: String) {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = FileHandle(forWritingAtPath: path)!
        defer { try? handle.close() }
        var chunk = ""
        for n in 0..<count {
            chunk += #"{"name": "url-\#(n)", "params": {"url": "https://example.com/page/\#(n)"}}"# + "\n"
            if chunk.utf8.count > 1 << 20 {
                handle.write(Data(chunk.utf8))
                chunk = ""
            }
        }
        handle.write(Data(chunk.utf8))
    }

    /// What a submit cost.
    public struct Submit: Sendable {
        public let seconds: Double
        /// The longest another writer waited for the write lock during the submit: how long the
        /// submit held it at a time, seen from outside.
        public let longestLockWait: Double
        /// The longest the submit's own transactions held the write lock (the engine's measure).
        public let longestHold: Double
    }

    /// Submits a job of `items` items from an items file in `folder` while another connection takes
    /// the write lock again and again, and measures both.
    public static func submit(items: Int, in folder: ScratchDirectory) async throws -> Submit {
        writeItemsFile(items, to: folder.path("items.jsonl"))
        let spec = """
            {"name": "crawl", "collector": {"type": "synthetic", "documents": 1, "page_size": 1},
             "ingester": {"type": "sqlite", "path": "sink.sqlite"}, "items_file": "items.jsonl"}
            """
        try spec.write(toFile: folder.path("spec.json"), atomically: true, encoding: .utf8)
        let engine = try Engine(storePath: folder.path("engine.sqlite"), logger: EngineWorkloads.logger)
        let prober = LockProber(path: folder.path("engine.sqlite"))
        let start = Date()
        let submitted = try await engine.submit(specAt: URL(fileURLWithPath: folder.path("spec.json")))
        let seconds = Date().timeIntervalSince(start)
        let longest = prober.stop()
        precondition(submitted.addedCount == items, "the submit added \(submitted.addedCount) of \(items) items")
        guard let store = engine.store as? Store else { preconditionFailure("the engine's store is not the SQLite store") }
        let hold = store.longestWriteLockHold().inSeconds
        engine.close()
        return Submit(seconds: seconds, longestLockWait: longest, longestHold: hold)
    }

    /// The id of the job an earlier `submit` in `folder` made.
    public static func jobID(in folder: ScratchDirectory) async throws -> UUID {
        let engine = try Engine(storePath: folder.path("engine.sqlite"), access: .readOnly, logger: EngineWorkloads.logger)
        defer { engine.close() }
        return try await submittedJob(engine).id
    }

    /// The job `submit` made, in the store `engine` opened.
    private static func submittedJob(_ engine: Engine) async throws -> Job {
        guard let job = try await engine.job("crawl") else { preconditionFailure("no job crawl") }
        return job
    }

    /// The reads the Jobs page and `status` make, each timed as the median of `samples`, on the
    /// store of an earlier `submit` in `folder`.
    public static func reads(in folder: ScratchDirectory, samples: Int = 21) async throws -> [(name: String, seconds: Double)] {
        let engine = try Engine(storePath: folder.path("engine.sqlite"), access: .readOnly, logger: EngineWorkloads.logger)
        defer { engine.close() }
        let job = try await submittedJob(engine)
        func median(_ body: () async throws -> Void) async rethrows -> Double {
            var times: [Double] = []
            for _ in 0..<samples {
                let start = Date()
                try await body()
                times.append(Date().timeIntervalSince(start))
            }
            return times.sorted()[samples / 2]
        }
        return [
            ("status of every job (GET /jobs, status --json)", try await median { _ = try await engine.jobStatuses() }),
            ("one job's status (GET /jobs/{id})", try await median { _ = try await engine.jobStatus(job.id) }),
            ("a page of 100 items (GET …/work-items?limit=100)", try await median {
                _ = try await engine.itemsPage(jobID: job.id, after: 500_000, limit: 100)
            }),
            ("a page of 100 failed items", try await median {
                _ = try await engine.itemsPage(jobID: job.id, status: .failed, limit: 100)
            }),
        ]
    }

    /// Marks `count` items of the job in `folder` failed, then times one retry of every failed item.
    public static func retryFailed(count: Int, in folder: ScratchDirectory) async throws -> Double {
        let raw = RawDatabase(path: folder.path("engine.sqlite"))
        raw.exec("UPDATE work_items SET status = 'failed', error_kind = 'transient', last_error = 'source down' WHERE position <= \(count)")
        let engine = try Engine(storePath: folder.path("engine.sqlite"), logger: EngineWorkloads.logger)
        defer { engine.close() }
        guard let job = try await engine.job("crawl") else { preconditionFailure("no job crawl") }
        let start = Date()
        let result = try await engine.retryFailed(jobID: job.id, mode: .restart)
        let seconds = Date().timeIntervalSince(start)
        precondition(result.total == count, "retried \(result.total) of \(count)")
        return seconds
    }
}

/// Another writer: takes the write lock (`BEGIN IMMEDIATE; COMMIT`) every few milliseconds on a
/// thread of its own, and remembers the longest it had to wait for it.
final class LockProber: @unchecked Sendable {
    // @unchecked: `longest` and `running` are only touched under `lock`; the database only on the thread.
    private let lock = NSLock()
    private var longest = 0.0
    private var running = true
    private let done = DispatchSemaphore(value: 0)

    init(path: String) {
        Thread.detachNewThread { [self] in
            var db: OpaquePointer?
            sqlite3_open(path, &db)
            sqlite3_busy_timeout(db, 600_000)
            while lock.withLock({ running }) {
                let start = Date()
                if sqlite3_exec(db, "BEGIN IMMEDIATE", nil, nil, nil) == SQLITE_OK {
                    let waited = Date().timeIntervalSince(start)
                    sqlite3_exec(db, "COMMIT", nil, nil, nil)
                    lock.withLock { longest = max(longest, waited) }
                }
                Thread.sleep(forTimeInterval: 0.005)
            }
            sqlite3_close_v2(db)
            done.signal()
        }
    }

    /// Stops probing; the longest wait seen, in seconds.
    func stop() -> Double {
        lock.withLock { running = false }
        done.wait()
        return lock.withLock { longest }
    }
}
