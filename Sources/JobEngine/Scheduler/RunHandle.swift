
/// A job run going on in the background; `wait()` returns its summary.
public final class RunHandle: Sendable {
    private enum State {
        case running([CheckedContinuation<RunSummary, any Error>])
        case done(Result<RunSummary, any Error>)
    }

    private let state = Locked<State>(.running([]))

    init() {}

    /// Waits until the run has no runnable item left.
    public func wait() async throws -> RunSummary {
        try await withCheckedThrowingContinuation { continuation in
            let result: Result<RunSummary, any Error>? = state.withLock { state in
                switch state {
                case .running(let waiters):
                    state = .running(waiters + [continuation])
                    return nil
                case .done(let result):
                    return result
                }
            }
            if let result { continuation.resume(with: result) }
        }
    }

    func complete(_ result: Result<RunSummary, any Error>) {
        let waiters = state.withLock { state -> [CheckedContinuation<RunSummary, any Error>] in
            guard case .running(let waiters) = state else { return [] }
            state = .done(result)
            return waiters
        }
        for waiter in waiters { waiter.resume(with: result) }
    }
}
