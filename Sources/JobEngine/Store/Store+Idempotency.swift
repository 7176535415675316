import Foundation

extension Store {
    /// One transaction (SQLite's writer serializes them), so two calls with one key never both
    /// hear `.first`. Another process's write lock is waited out.
    package func beginIdempotentCall(key: String, digest: String, owner: String) async throws -> IdempotentCall {
        try await Self.waitingOutContention {
            try await writer.write { db in
                let now = Self.now
                let expired = now - IdempotentCall.keptSeconds
                // This key if its answer is over a day old, and a few other expired ones: the table
                // stays as small as a day's keys.
                try db.execute("""
                    DELETE FROM idempotency_keys WHERE key = ? AND created_at < ? AND (answer IS NOT NULL OR touched_at < ?)
                    """, [.text(key), .real(expired), .real(now - IdempotentCall.abandonedAfterSeconds)])
                // Never a call still running (touched lately), however long ago it began.
                try db.execute("""
                    DELETE FROM idempotency_keys WHERE key IN
                    (SELECT key FROM idempotency_keys WHERE created_at < ? AND (answer IS NOT NULL OR touched_at < ?)
                     ORDER BY created_at LIMIT 100)
                    """, [.real(expired), .real(now - IdempotentCall.abandonedAfterSeconds)])
                guard let row = try db.execute("SELECT request, answer_status, answer, touched_at FROM idempotency_keys WHERE key = ?",
                                               [.text(key)]).first else {
                    try db.execute("""
                        INSERT INTO idempotency_keys (key, request, owner, answer_status, answer, created_at, touched_at)
                        VALUES (?, ?, ?, NULL, NULL, ?, ?)
                        """, [.text(key), .text(digest), .text(owner), .real(now), .real(now)])
                    return .first
                }
                guard row.string("request") == digest else { return .mismatch }
                if let answer = row.string("answer") { return .replay(status: row.int("answer_status"), answer: answer) }
                guard (row.double("touched_at") ?? 0) < now - IdempotentCall.abandonedAfterSeconds else { return .inProgress }
                try db.execute("UPDATE idempotency_keys SET owner = ?, created_at = ?, touched_at = ? WHERE key = ?",
                               [.text(owner), .real(now), .real(now), .text(key)])
                return .first
            }
        }
    }

    package func touchIdempotentCall(key: String, owner: String) async throws {
        try await writer.write { db in
            try db.execute("UPDATE idempotency_keys SET touched_at = ? WHERE key = ? AND owner = ? AND answer IS NULL",
                           [.real(Self.now), .text(key), .text(owner)])
        }
    }

    package func finishIdempotentCall(key: String, owner: String, status: Int, answer: String) async throws {
        try await Self.waitingOutContention {
            try await writer.write { db in
                try db.execute("""
                    UPDATE idempotency_keys SET answer_status = ?, answer = ? WHERE key = ? AND owner = ? AND answer IS NULL
                    """, [.integer(Int64(status)), .text(answer), .text(key), .text(owner)])
            }
        }
    }

    package func abandonIdempotentCall(key: String, owner: String) async throws {
        try await Self.waitingOutContention {
            try await writer.write { db in
                try db.execute("DELETE FROM idempotency_keys WHERE key = ? AND owner = ? AND answer IS NULL",
                               [.text(key), .text(owner)])
            }
        }
    }
}
