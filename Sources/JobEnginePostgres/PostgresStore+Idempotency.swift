import Foundation
import JobEngine

extension PostgresStore {
    /// One transaction: the key's row is inserted or locked (`FOR UPDATE`), so two calls with one
    /// key, on any hosts, never both hear `.first`. Answered once: a redo after a lost COMMIT answer
    /// gets the first run's answer (it would otherwise find its own row and hear `.inProgress`).
    package func beginIdempotentCall(key: String, digest: String, owner: String) async throws -> IdempotentCall {
        try await sessions.transactionAnsweredOnce { db in
            let kept: SQLValue = .real(IdempotentCall.keptSeconds)
            let abandoned: SQLValue = .real(IdempotentCall.abandonedAfterSeconds)
            // This key if its answer is over a day old, and a few other expired ones; never a call
            // still running (touched lately), however long ago it began.
            let expired = "created_at < \(Self.now) - $1 AND (answer IS NOT NULL OR touched_at < \(Self.now) - $2)"
            try db.execute("DELETE FROM idempotency_keys WHERE key = $3 AND \(expired)", [kept, abandoned, .text(key)])
            try db.execute("""
                DELETE FROM idempotency_keys WHERE key IN (SELECT key FROM idempotency_keys
                WHERE \(expired) ORDER BY created_at LIMIT 100 FOR UPDATE SKIP LOCKED)
                """, [kept, abandoned])
            let inserted = try db.execute("""
                INSERT INTO idempotency_keys (key, request, owner, answer_status, answer, created_at, touched_at)
                VALUES ($1, $2, $3, NULL, NULL, \(Self.now), \(Self.now))
                ON CONFLICT (key) DO NOTHING RETURNING key
                """, [.text(key), .text(digest), .text(owner)])
            if !inserted.isEmpty { return .first }
            guard let row = try db.execute("""
                SELECT request, answer_status, answer, CASE WHEN touched_at < \(Self.now) - $2 THEN 1 ELSE 0 END AS abandoned
                FROM idempotency_keys WHERE key = $1 FOR UPDATE
                """, [.text(key), .real(IdempotentCall.abandonedAfterSeconds)]).first else { return .inProgress }
            guard row.string("request") == digest else { return .mismatch }
            if let answer = row.string("answer") { return .replay(status: row.int("answer_status"), answer: answer) }
            guard row.int("abandoned") == 1 else { return .inProgress }
            try db.execute("UPDATE idempotency_keys SET owner = $2, created_at = \(Self.now), touched_at = \(Self.now) WHERE key = $1",
                           [.text(key), .text(owner)])
            return .first
        }
    }

    package func touchIdempotentCall(key: String, owner: String) async throws {
        try await sessions.transaction { db in
            try db.execute("UPDATE idempotency_keys SET touched_at = \(Self.now) WHERE key = $1 AND owner = $2 AND answer IS NULL",
                           [.text(key), .text(owner)])
        }
    }

    package func finishIdempotentCall(key: String, owner: String, status: Int, answer: String) async throws {
        try await sessions.transaction { db in
            try db.execute("""
                UPDATE idempotency_keys SET answer_status = $3, answer = $4 WHERE key = $1 AND owner = $2 AND answer IS NULL
                """, [.text(key), .text(owner), .integer(Int64(status)), .text(answer)])
        }
    }

    package func abandonIdempotentCall(key: String, owner: String) async throws {
        try await sessions.transaction { db in
            try db.execute("DELETE FROM idempotency_keys WHERE key = $1 AND owner = $2 AND answer IS NULL", [.text(key), .text(owner)])
        }
    }
}
