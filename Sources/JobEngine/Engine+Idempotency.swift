import Foundation

extension Engine {
    /// Runs `call` once per idempotency key: the first call with `key` runs and its answer (an HTTP
    /// status and body) is kept a day; the same call sent again (the same `request` bytes) gets that
    /// answer without running. For the API's `Idempotency-Key` header: a client that timed out sends
    /// its retry again and nothing starts twice.
    ///
    /// While `call` runs, its key is touched every minute, so a long bulk retry is never taken as
    /// abandoned. When `call` throws, `failureAnswer` decides: an answer is kept and returned, to
    /// this caller and to every resend (the call changed something, so it must not run again); nil
    /// forgets the key and rethrows (the call changed nothing, and may be sent again).
    ///
    /// - Returns: the answer, and whether it is a replay of an earlier call's.
    /// - Throws: ``IdempotencyConflict`` when the key belongs to another call or its first call is
    ///   still running; whatever `call` throws.
    package func idempotent(key: String, request: Data, failureAnswer: (any Error) -> (status: Int, body: String)?,
                            _ call: () async throws -> (status: Int, body: String)) async throws
        -> (status: Int, body: String, replayed: Bool)
    {
        try checkWritable()
        let owner = UUID().uuidString.lowercased()
        switch try await store.beginIdempotentCall(key: key, digest: IdempotentCall.digest(request), owner: owner) {
        case .replay(let status, let answer):
            return (status, answer, true)
        case .inProgress:
            throw IdempotencyConflict.inProgress
        case .mismatch:
            throw IdempotencyConflict.otherRequest
        case .first:
            break
        }
        let touching = Task { [store] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(IdempotentCall.touchEverySeconds))
                if Task.isCancelled { return }
                try? await store.touchIdempotentCall(key: key, owner: owner)
            }
        }
        defer { touching.cancel() }
        let answer: (status: Int, body: String)
        do {
            answer = try await call()
        } catch {
            guard let kept = failureAnswer(error) else {
                try? await store.abandonIdempotentCall(key: key, owner: owner)
                throw error
            }
            try await store.finishIdempotentCall(key: key, owner: owner, status: kept.status, answer: kept.body)
            return (kept.status, kept.body, false)
        }
        // If this fails too, the key stays unanswered: sent again, the call hears "in progress" until
        // ten minutes without a touch have passed.
        try await store.finishIdempotentCall(key: key, owner: owner, status: answer.status, answer: answer.body)
        return (answer.status, answer.body, false)
    }
}
