import Foundation

extension Engine {
    /// Runs `call` once per idempotency key: the first call with `key` runs and its answer is kept
    /// a day; the same call sent again (the same `request` bytes) gets that answer without running.
    /// For the API's `Idempotency-Key` header: a client that timed out sends its retry again and
    /// nothing starts twice.
    ///
    /// - Returns: the answer, and whether it is a replay of an earlier call's.
    /// - Throws: ``IdempotencyConflict`` when the key belongs to another call or its first call is
    ///   still running; whatever `call` throws (then nothing is kept, and the call may be sent again).
    package func idempotent(key: String, request: Data, _ call: () async throws -> String) async throws
        -> (answer: String, replayed: Bool)
    {
        try checkWritable()
        switch try await store.beginIdempotentCall(key: key, digest: IdempotentCall.digest(request)) {
        case .replay(let answer):
            return (answer, true)
        case .inProgress:
            throw IdempotencyConflict.inProgress
        case .mismatch:
            throw IdempotencyConflict.otherRequest
        case .first:
            let answer: String
            do {
                answer = try await call()
            } catch {
                try? await store.abandonIdempotentCall(key: key)
                throw error
            }
            try await store.finishIdempotentCall(key: key, answer: answer)
            return (answer, false)
        }
    }
}
