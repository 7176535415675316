import Foundation
import JobEngine

extension PostgresStore {
    /// One transaction: the key's row is inserted or locked (`FOR UPDATE`), so two calls with one
    /// key, on any hosts, never both hear `.first`. Answered once: a redo after a lost COMMIT answer
    /// gets the first run's answer (it would otherwise find its own row and hear `.inProgress`).
    package func beginIdempotentCall(key: String, digest: String) async throws -> IdempotentCall {
        try await sessions.transactionAnsweredOnce { db in
            try db.execute("""
                DELETE FROM idempotency_keys WHERE key IN (SELECT key FROM idempotency_keys
                WHERE created_at < \(Self.now) - $1 ORDER BY created_at LIMIT 100 FOR UPDATE SKIP LOCKED)
                """, [.real(IdempotentCall.keptSeconds)])
            let inserted = try db.execute("""
                INSERT INTO idempotency_keys (key, request, answer, created_at) VALUES ($1, $2, NULL, \(Self.now))
                ON CONFLICT (key) DO NOTHING RETURNING key
                """, [.text(key), .text(digest)])
            if !inserted.isEmpty { return .first }
            guard let row = try db.execute("""
                SELECT request, answer, CASE WHEN created_at < \(Self.now) - $2 THEN 1 ELSE 0 END AS abandoned FROM idempotency_keys WHERE key = $1 FOR UPDATE
                """, [.text(key), .real(IdempotentCall.abandonedAfterSeconds)]).first else { return .inProgress }
            guard row.string("request") == digest else { return .mismatch }
            if let answer = row.string("answer") { return .replay(answer) }
            guard row.int("abandoned") == 1 else { return .inProgress }
            try db.execute("UPDATE idempotency_keys SET created_at = \(Self.now) WHERE key = $1", [.text(key)])
            return .first
        }
    }

    package func finishIdempotentCall(key: String, answer: String) async throws {
        try await sessions.transaction { db in
            try db.execute("UPDATE idempotency_keys SET answer = $2 WHERE key = $1", [.text(key), .text(answer)])
        }
    }

    package func abandonIdempotentCall(key: String) async throws {
        try await sessions.transaction { db in
            try db.execute("DELETE FROM idempotency_keys WHERE key = $1 AND answer IS NULL", [.text(key)])
        }
    }
}
