import CSQLite
import Foundation
import JobEngine

/// Per-item costs: how many items a second the scheduler runs, how fast a big store resumes.
public enum SchedulerWorkloads {
    /// A sink that keeps nothing: the per-item cost measured is the engine's alone.
    struct DiscardIngester: Ingester {
        func ingest(_ batch: Batch) throws -> Int64? { nil }
    }

    /// `items` items of one document each through the engine (concurrency 4); items per second.
    public static func engineItemsPerSecond(items: Int, in folder: ScratchDirectory) async throws -> Double {
        let engine = try Engine(storePath: folder.path("engine.sqlite"), logger: EngineWorkloads.logger)
        engine.register(ingester: "discard") { _, _ in DiscardIngester() }
        let spec = JobSpec(name: "throughput", concurrency: 4,
                           collector: ComponentSpec(type: "synthetic", options: ["documents": 1, "document_bytes": 64]),
                           ingester: ComponentSpec(type: "discard"),
                           items: (0..<items).map { ItemSpec(name: "i\($0)") })
        let job = try await engine.submit(spec, baseDirectory: folder.url).job
        let start = Date()
        let summary = try await engine.run(jobID: job.id)
        let seconds = Date().timeIntervalSince(start)
        precondition(summary.allSucceeded)
        await engine.shutdown()
        return Double(items) / seconds
    }

    /// The same state transitions each item needs, as bare sequential SQLite transactions: claim
    /// (status + event), the page (staged document + checkpoint + counters), the batch (checkpoint
    /// + counters), the finish (status + event + staged clean-up). Items per second.
    public static func bareItemsPerSecond(items: Int, in folder: ScratchDirectory) -> Double {
        let db = RawDatabase(path: folder.path("bare.sqlite"))
        db.exec("""
            CREATE TABLE items (id TEXT PRIMARY KEY, status TEXT NOT NULL, phase TEXT NOT NULL, owner TEXT,
              collected INTEGER NOT NULL DEFAULT 0, ingested INTEGER NOT NULL DEFAULT 0, updated_at REAL);
            CREATE INDEX items_status ON items (status);
            CREATE TABLE events (id INTEGER PRIMARY KEY, item TEXT, from_status TEXT, to_status TEXT, at REAL);
            CREATE TABLE staged (item TEXT, seq INTEGER, key TEXT, body BLOB, PRIMARY KEY (item, seq)) WITHOUT ROWID;
            CREATE TABLE checkpoints (item TEXT, phase TEXT, cursor TEXT, documents INTEGER, PRIMARY KEY (item, phase)) WITHOUT ROWID;
            """)
        let insertItem = db.prepare("INSERT INTO items (id, status, phase) VALUES (?, 'pending', 'collect')")
        db.exec("BEGIN")
        for index in 0..<items { insertItem.run([.text("i\(index)")]) }
        db.exec("COMMIT")
        let claim = db.prepare("UPDATE items SET status = 'running', owner = 'bench', updated_at = ? WHERE id = ?")
        let event = db.prepare("INSERT INTO events (item, from_status, to_status, at) VALUES (?, ?, ?, ?)")
        let stage = db.prepare("INSERT INTO staged (item, seq, key, body) VALUES (?, 0, ?, ?)")
        let checkpoint = db.prepare("""
            INSERT INTO checkpoints (item, phase, cursor, documents) VALUES (?, ?, NULL, 1)
            ON CONFLICT (item, phase) DO UPDATE SET documents = excluded.documents
            """)
        let counters = db.prepare("UPDATE items SET collected = 1, ingested = ?, phase = ?, updated_at = ? WHERE id = ?")
        let finish = db.prepare("UPDATE items SET status = 'succeeded', phase = 'done', owner = NULL, updated_at = ? WHERE id = ?")
        let clean = db.prepare("DELETE FROM staged WHERE item = ?")
        let body = SyntheticDocument.body(key: "i-0", bytes: 64)

        let start = Date()
        for index in 0..<items {
            let id = SQLValue.text("i\(index)")
            let now = SQLValue.real(Date().timeIntervalSince1970)
            db.exec("BEGIN IMMEDIATE")
            claim.run([now, id]); event.run([id, .text("pending"), .text("running"), now])
            db.exec("COMMIT")
            db.exec("BEGIN IMMEDIATE")
            stage.run([id, .text("i\(index)-0"), .blob(body)]); checkpoint.run([id, .text("collect")])
            counters.run([.integer(0), .text("ingest"), now, id])
            db.exec("COMMIT")
            db.exec("BEGIN IMMEDIATE")
            checkpoint.run([id, .text("ingest")]); counters.run([.integer(1), .text("ingest"), now, id])
            db.exec("COMMIT")
            db.exec("BEGIN IMMEDIATE")
            finish.run([now, id]); event.run([id, .text("running"), .text("succeeded"), now]); clean.run([id])
            db.exec("COMMIT")
        }
        return Double(items) / Date().timeIntervalSince(start)
    }

    /// A store of `items` items, all succeeded but `interrupted` left running by a dead worker whose
    /// lease has expired (a missing owner lock proves nothing; see `DeadOwnerSweep`). Returns the seconds from opening the store to the first recovered item's first
    /// checkpoint, and the seconds `resume()` took to finish them all.
    public static func resumeLatency(items: Int, interrupted: Int, in folder: ScratchDirectory) async throws
        -> (firstProgress: Double, allRecovered: Double)
    {
        let path = folder.path("engine.sqlite")
        do {
            let engine = try Engine(storePath: path, logger: EngineWorkloads.logger)
            let spec = JobSpec(name: "big", collector: ComponentSpec(type: "synthetic", options: ["documents": 100, "page_size": 50]),
                               ingester: ComponentSpec(type: "sqlite", options: ["path": "sink.sqlite"]),
                               items: (0..<items).map { ItemSpec(name: "i\($0)") })
            _ = try await engine.submit(spec, baseDirectory: folder.url)
            engine.close()
        }
        // What a fleet of finished items plus one crashed worker leaves behind.
        let raw = RawDatabase(path: path)
        raw.exec("UPDATE work_items SET status = 'succeeded', phase = 'done' WHERE position >= \(interrupted)")
        raw.exec("""
            UPDATE work_items SET status = 'running', lease_owner = '\(ProcessInfo.processInfo.hostName):0:crashed',
            lease_expires_at = \(Date().timeIntervalSince1970 - 1) WHERE position < \(interrupted)
            """)
        raw.exec("PRAGMA wal_checkpoint(TRUNCATE)")

        let firstProgress = Locked<Date?>(nil)
        let start = Date()
        let engine = try Engine(storePath: path, logger: EngineWorkloads.logger)
        engine.observe { event in
            if case .pageCollected = event { firstProgress.withLock { $0 = $0 ?? Date() } }
        }
        let report = try await engine.resume()
        let finished = Date()
        precondition(report.recovered.count == interrupted && report.allSucceeded, "resume did not recover the interrupted items")
        await engine.shutdown()
        let first = firstProgress.withLock { $0 } ?? finished
        return (first.timeIntervalSince(start), finished.timeIntervalSince(start))
    }
}
