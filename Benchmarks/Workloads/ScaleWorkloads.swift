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

    /// The median of `samples` timings of `body`, in seconds.
    static func timedMedian(_ samples: Int, _ body: () async throws -> Void) async rethrows -> Double {
        var times: [Double] = []
        for _ in 0..<samples {
            let start = Date()
            try await body()
            times.append(Date().timeIntervalSince(start))
        }
        return times.sorted()[samples / 2]
    }

    /// The reads the Jobs page and `status` make, each timed as the median of `samples`, on the
    /// store of an earlier `submit` in `folder`.
    public static func reads(in folder: ScratchDirectory, samples: Int = 21) async throws -> [(name: String, seconds: Double)] {
        let engine = try Engine(storePath: folder.path("engine.sqlite"), access: .readOnly, logger: EngineWorkloads.logger)
        defer { engine.close() }
        let job = try await submittedJob(engine)
        func median(_ body: () async throws -> Void) async rethrows -> Double { try await timedMedian(samples, body) }
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

    /// Marks `count` items of the job in `folder` failed as after an outage, scattered through it as
    /// failures are (every 10th item; the job has at least `10 × count`; positions are items-file
    /// lines, from 1): "HTTP 503" (transient), every 100th "bad record" (permanent), every 100,000th a
    /// crash loop whose error says "Quota exceeded" (the rare kind and the rare text); and `count / 10`
    /// others cancelled. Each failure gets its event, spread over the last 50 minutes (the job's
    /// activity counts them).
    public static func failMany(count: Int, in folder: ScratchDirectory) {
        let raw = RawDatabase(path: folder.path("engine.sqlite"))
        // What `serve` (measured before) ran goes back to pending: only these failures are counted.
        raw.exec("""
            UPDATE work_items SET status = 'pending', error_kind = NULL, last_error = NULL WHERE status <> 'pending';
            UPDATE work_items SET status = 'failed',
            error_kind = CASE WHEN position % 100000 = 70 THEN 'crash_loop' WHEN position % 100 = 30 THEN 'permanent' ELSE 'transient' END,
            last_error = CASE WHEN position % 100000 = 70 THEN 'Quota exceeded for key k' WHEN position % 100 = 30 THEN 'bad record'
                         ELSE 'HTTP 503' END
            WHERE position % 10 = 0 AND position <= \(count * 10);
            UPDATE work_items SET status = 'cancelled', last_error = 'job cancelled' WHERE position % 100 = 5 AND position <= \(count * 10);
            INSERT INTO events (item_id, job_id, attempt, from_status, to_status, error, error_kind, at)
                SELECT id, job_id, attempt, 'running', 'failed', last_error, error_kind, CAST(strftime('%s', 'now') AS REAL) - position % 3000
                FROM work_items WHERE status = 'failed';
            """)
    }

    /// How many items `failMany(count:)` put in a crash loop (every 100,000th position, from 70).
    static func rareCount(_ count: Int) -> Int { count * 10 < 70 ? 0 : (count * 10 - 70) / 100_000 + 1 }

    /// The item list narrowed as an operator narrows it after an outage (`failMany`), each read timed
    /// as the median of `samples`; and, for a ratio in one run, the narrowed page as the store read
    /// it before pages bounded their look (one walk of every failed item).
    public static func narrowedReads(count: Int, in folder: ScratchDirectory, samples: Int = 11) async throws
        -> [(name: String, seconds: Double)]
    {
        let engine = try Engine(storePath: folder.path("engine.sqlite"), access: .readOnly, logger: EngineWorkloads.logger)
        defer { engine.close() }
        let job = try await submittedJob(engine)
        func median(_ body: () async throws -> Void) async rethrows -> Double { try await timedMedian(samples, body) }
        let raw = RawDatabase(path: folder.path("engine.sqlite"))
        let jobText = job.id.uuidString.lowercased()
        let rare = rareCount(count)
        return [
            ("a page of 100 failed items of a rare kind (\(rare) crash_loop among \(count) failed)", try await median {
                let page = try await engine.itemsPage(jobID: job.id, status: .failed, errorKind: .crashLoop, limit: 100)
                precondition(page.items.count == rare, "found \(page.items.count) of \(rare)")
            }),
            ("a page of 100 failed items with a rare error text (one page: looks at 10,000)", try await median {
                _ = try await engine.itemsPage(jobID: job.id, status: .failed, errorContains: "quota", limit: 100)
            }),
            ("  the same page as read before (one walk of every failed item)", try await median {
                let found = raw.integers("""
                    SELECT w.position FROM work_items w JOIN jobs j ON j.id = w.job_id WHERE w.job_id = '\(jobText)'
                    AND w.status = 'failed' AND w.position > -1 AND instr(lower(w.last_error), lower('quota')) > 0
                    ORDER BY w.position LIMIT 101
                    """)
                precondition(found.count == rare)
            }),
            ("  every page of that text, followed to the end (\(count) failed looked at)", try await median {
                var after: Int?
                var found = 0
                repeat {
                    let page = try await engine.itemsPage(jobID: job.id, status: .failed, errorContains: "quota", after: after, limit: 100)
                    found += page.items.count
                    after = page.nextAfter
                } while after != nil
                precondition(found == rare, "found \(found) of \(rare)")
            }),
            ("a page of 100 items of any status with a rare error text (looks at 10,000)", try await median {
                _ = try await engine.itemsPage(jobID: job.id, errorContains: "quota", limit: 100)
            }),
            ("the job's activity (GET …/activity: every item's creation and \(count) failures within the hour)", try await median {
                let activity = try await engine.activity(jobID: job.id, since: Date().addingTimeInterval(-3_600))
                // At least these (`serve`, measured before, ran some items and was stopped).
                precondition(activity.failures.map(\.count).reduce(0, +) >= count, "failures \(activity.failures.map(\.count).reduce(0, +))")
            }),
        ]
    }

    /// Walks the job's items of `statuses` in position order, a statement of 1,500 at a time per
    /// entry (an entry may name several statuses); how many it found.
    private static func walk(_ raw: RawDatabase, statuses: [String], job: String) -> Int {
        var found = 0
        for status in statuses {
            var after: Int64 = -1
            while true {
                let step = raw.integers("""
                    SELECT position FROM work_items WHERE job_id = '\(job)' AND position > \(after)
                    AND status IN (\(status)) ORDER BY position LIMIT 1500
                    """)
                guard let last = step.last else { break }
                found += step.count
                after = last
            }
        }
        return found
    }

    /// Bulk retries after `failMany`, timed: by a rare text (dry run), of failed and cancelled items
    /// (dry run, two statuses), and of every failed item (restart); and, for a ratio in one run, the
    /// two-status walk in one statement as the store stepped it before, and per status as now.
    public static func bulkRetries(count: Int, in folder: ScratchDirectory) async throws -> [(name: String, seconds: Double)] {
        let engine = try Engine(storePath: folder.path("engine.sqlite"), logger: EngineWorkloads.logger)
        defer { engine.close() }
        let job = try await submittedJob(engine)
        func timed(_ body: () async throws -> Void) async rethrows -> Double {
            let start = Date()
            try await body()
            return Date().timeIntervalSince(start)
        }
        let cancelled = count / 10
        let rare = rareCount(count)
        let raw = RawDatabase(path: folder.path("engine.sqlite"))
        let jobText = job.id.uuidString.lowercased()
        return [
            ("retry --failed --error-contains quota --dry-run (\(rare) among \(count))", try await timed {
                let result = try await engine.retryMatching(RetryFilter(jobID: job.id, errorContains: "quota"), mode: .recover, dryRun: true)
                precondition(result.total == rare, "matched \(result.total) of \(rare)")
            }),
            ("retry --failed --cancelled --dry-run (\(count + cancelled) items, two statuses)", try await timed {
                let result = try await engine.retryMatching(RetryFilter(jobID: job.id, statuses: [.failed, .cancelled]), mode: .recover,
                                                            dryRun: true)
                precondition(result.total == count + cancelled, "matched \(result.total)")
            }),
            ("  its walk as stepped before: both statuses in one statement (raw SQL, steps of 1,500)", try await timed {
                let found = walk(raw, statuses: ["'failed', 'cancelled'"], job: jobText)
                precondition(found == count + cancelled, "walked \(found)")
            }),
            ("  its walk as stepped now: each status along its index (raw SQL, steps of 1,500)", try await timed {
                let found = walk(raw, statuses: ["'failed'", "'cancelled'"], job: jobText)
                precondition(found == count + cancelled, "walked \(found)")
            }),
            ("retry --failed of \(count) items (restart)", try await timed {
                let result = try await engine.retryFailed(jobID: job.id, mode: .restart)
                precondition(result.total == count, "retried \(result.total) of \(count)")
            }),
        ]
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
