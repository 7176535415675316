import Foundation

extension Store {
    /// One transaction (SQLite's writer serializes them), so two calls with one key never both
    /// hear `.first`.
    package func beginIdempotentCall(key: String, digest: String) async throws -> IdempotentCall {
        try await writer.write { db in
            let now = Self.now
            // A few expired answers at a time: the table stays as small as a day's keys.
            try db.execute("""
                DELETE FROM idempotency_keys WHERE key IN
                (SELECT key FROM idempotency_keys WHERE created_at < ? ORDER BY created_at LIMIT 100)
                """, [.real(now - IdempotentCall.keptSeconds)])
            guard let row = try db.execute("SELECT request, answer, created_at FROM idempotency_keys WHERE key = ?",
                                           [.text(key)]).first else {
                try db.execute("INSERT INTO idempotency_keys (key, request, answer, created_at) VALUES (?, ?, NULL, ?)",
                               [.text(key), .text(digest), .real(now)])
                return .first
            }
            guard row.string("request") == digest else { return .mismatch }
            if let answer = row.string("answer") { return .replay(answer) }
            guard (row.double("created_at") ?? 0) < now - IdempotentCall.abandonedAfterSeconds else { return .inProgress }
            try db.execute("UPDATE idempotency_keys SET created_at = ? WHERE key = ?", [.real(now), .text(key)])
            return .first
        }
    }

    package func finishIdempotentCall(key: String, answer: String) async throws {
        try await writer.write { db in
            try db.execute("UPDATE idempotency_keys SET answer = ? WHERE key = ?", [.text(answer), .text(key)])
        }
    }

    package func abandonIdempotentCall(key: String) async throws {
        try await writer.write { db in
            try db.execute("DELETE FROM idempotency_keys WHERE key = ? AND answer IS NULL", [.text(key)])
        }
    }
}
