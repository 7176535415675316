import Foundation
import JobEngine
import JobEnginePostgres
import Logging
import PostgresNIO

/// The reference workload on a PostgreSQL store: the engine as 1, 2 and 4 `engine-run` worker
/// processes on one database, against a bare loop doing the same row writes over one connection.
public enum PostgresWorkloads {
    /// `url` with a schema of its own, so each measurement starts from empty tables.
    public static func freshURL(_ url: String) -> String {
        url + (url.contains("?") ? "&" : "?") + "search_path=bench_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    }

    /// The workload's spec with the `postgres` sink.
    public static func spec(_ workload: ReferenceWorkload) -> JobSpec {
        var spec = workload.spec(sinkPath: "unused.sqlite")
        spec.ingester = ComponentSpec(type: "postgres", options: ["table": "docs", "batch_size": .number(Double(workload.batchSize))])
        return spec
    }

    /// Wall time of `workers` `engine-run resume` processes running the job (recorded beforehand
    /// with `run --enqueue`, not timed) until the last exits.
    public static func runEngine(_ workload: ReferenceWorkload, url: String, workers: Int, engineRun: URL,
                                 in folder: ScratchDirectory) throws -> Double {
        try Data(spec(workload).jsonValue.canonicalJSON()).write(to: folder.url.appendingPathComponent("spec.json"))
        func start(_ arguments: [String], host: String) throws -> Process {
            let process = Process()
            process.executableURL = engineRun
            process.arguments = arguments + ["--db", url]
            process.currentDirectoryURL = folder.url
            process.environment = ProcessInfo.processInfo.environment.merging(["ENGINE_HOST_ID": host]) { $1 }
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            return process
        }
        let enqueue = try start(["run", "spec.json", "--enqueue", "--quiet"], host: "submitter")
        enqueue.waitUntilExit()
        guard enqueue.terminationStatus == 0 else { throw failure("engine-run run --enqueue exited with \(enqueue.terminationStatus)") }
        let started = Date()
        let processes = try (0..<workers).map { try start(["resume", "--quiet"], host: "worker-\($0)") }
        for process in processes { process.waitUntilExit() }
        let seconds = Date().timeIntervalSince(started)
        for process in processes where process.terminationStatus != 0 {
            throw failure("engine-run resume exited with \(process.terminationStatus)")
        }
        return seconds
    }

    /// The physical limit on PostgreSQL: the writes the design needs, with the workload's
    /// concurrency (one connection and thread per slot, items dealt round-robin), each commit one
    /// statement (one round trip). Each page: its documents staged and the collect checkpoint
    /// upserted; each batch: its rows upserted into the sink table, the ingest checkpoint and the
    /// deletion of its staged copies (the `postgres` sink's own shape). Returns wall seconds.
    public static func runBare(_ workload: ReferenceWorkload, url: String) throws -> Double {
        let sessions = PostgresSessions(try PostgresLocation(url: url), maximum: workload.concurrency,
                                        logger: Logger(label: "bare", factory: { _ in SwiftLogNoOpLogHandler() }))
        defer { sessions.close() }
        let schema = url.components(separatedBy: "search_path=").last ?? "public"
        try sessions.transaction { db in
            try db.execute("CREATE SCHEMA IF NOT EXISTS \(schema)")
            try db.execute("""
                CREATE TABLE staged (item TEXT NOT NULL, seq BIGINT NOT NULL, key TEXT NOT NULL, body BYTEA NOT NULL, PRIMARY KEY (item, seq))
                """)
            try db.execute("""
                CREATE TABLE checkpoints (item TEXT NOT NULL, phase TEXT NOT NULL, cursor TEXT, documents BIGINT NOT NULL,
                PRIMARY KEY (item, phase))
                """)
            try db.execute("""
                CREATE TABLE docs (item TEXT NOT NULL, seq BIGINT NOT NULL, key TEXT NOT NULL, data JSONB NOT NULL, PRIMARY KEY (item, seq))
                """)
        }
        let failures = Locked<[any Error]>([])
        let start = Date()
        let done = DispatchGroup()
        for slot in 0..<workload.concurrency {
            done.enter()
            Thread {
                defer { done.leave() }
                do {
                    for itemIndex in stride(from: slot, to: workload.items, by: workload.concurrency) {
                        try runBareItem(itemIndex, workload, sessions)
                    }
                } catch {
                    failures.withLock { $0.append(error) }
                }
            }.start()
        }
        done.wait()
        if let failure = failures.withLock({ $0.first }) { throw failure }
        return Date().timeIntervalSince(start)
    }

    private static func runBareItem(_ itemIndex: Int, _ workload: ReferenceWorkload, _ sessions: PostgresSessions) throws {
        let item = String(format: "item-%05d", itemIndex)
        var documents: [(key: String, body: Data)] = []
        for page in 0..<workload.pagesPerItem {
            let seqs = (0..<workload.pageSize).map { page * workload.pageSize + $0 }
            let pageDocuments = seqs.map { seq in
                let key = "\(item)-\(seq)"
                return (key: key, body: SyntheticDocument.body(key: key, bytes: workload.documentBytes))
            }
            documents += pageDocuments
            var bindings = PostgresBindings()
            bindings.append(item)
            bindings.append(seqs.map(Int64.init))
            bindings.append(pageDocuments.map(\.key))
            bindings.append(pageDocuments.map { ByteBuffer(bytes: $0.body) })
            bindings.append(String((page + 1) * workload.pageSize))
            bindings.append(Int64((page + 1) * workload.pageSize))
            try sessions.withSession { db in
                try db.execute("""
                    WITH staged_page AS (
                        INSERT INTO staged (item, seq, key, body) SELECT $1, s, k, b FROM unnest($2::bigint[], $3::text[], $4::bytea[]) AS u (s, k, b))
                    INSERT INTO checkpoints (item, phase, cursor, documents) VALUES ($1, 'collect', $5, $6)
                    ON CONFLICT (item, phase) DO UPDATE SET cursor = excluded.cursor, documents = excluded.documents
                    """, bindings: bindings)
            }
        }
        var seq = 0
        while seq < documents.count {
            let end = min(documents.count, seq + workload.batchSize)
            var bindings = PostgresBindings()
            bindings.append(item)
            bindings.append((seq..<end).map(Int64.init))
            bindings.append(documents[seq..<end].map(\.key))
            bindings.append(documents[seq..<end].map { String(decoding: $0.body, as: UTF8.self) })
            bindings.append(Int64(end))
            try sessions.withSession { db in
                try db.execute("""
                    WITH delivered AS (
                        INSERT INTO docs (item, seq, key, data) SELECT $1, s, k, d::jsonb FROM unnest($2::bigint[], $3::text[], $4::text[]) AS u (s, k, d)
                        ON CONFLICT (item, seq) DO UPDATE SET key = excluded.key, data = excluded.data),
                    checkpoint AS (
                        INSERT INTO checkpoints (item, phase, documents) VALUES ($1, 'ingest', $5)
                        ON CONFLICT (item, phase) DO UPDATE SET documents = excluded.documents)
                    DELETE FROM staged WHERE item = $1 AND seq < $5
                    """, bindings: bindings)
            }
            seq = end
        }
    }

    private static func failure(_ message: String) -> Error {
        CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: message])
    }
}
