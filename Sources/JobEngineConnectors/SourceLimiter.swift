import Foundation
import JobEngine

/// Limits on one source (a Bright Data dataset, an API's base URL), shared by every item of every
/// job that calls it in this process: at most `concurrency` requests in flight and on average
/// `requestsPerSecond` (a token bucket holding at most one second of requests). A bulk recover of
/// 10,000 failed items then reaches the vendor at the pace it allows, whatever the jobs'
/// concurrency. A 429 halves the rate (down to a sixteenth of the limit); each request let through
/// afterwards wins back 5 % of it.
final class SourceLimiter: Sendable {
    struct Limits: Sendable, Equatable {
        var concurrency: Int?
        var requestsPerSecond: Double?
    }

    private struct State {
        var limits: Limits
        var inFlight = 0
        var tokens: Double
        var refilled = ContinuousClock.now
        /// The current rate: the limit, or less after a 429.
        var rate: Double?
    }

    private let state: Locked<State>

    private init(_ limits: Limits) {
        state = Locked(State(limits: limits, tokens: 1, rate: limits.requestsPerSecond))
    }

    private static let sources = Locked<[String: SourceLimiter]>([:])

    /// The limiter of source `key` in this process, with `limits` (the latest spec's, when jobs
    /// disagree); nil when `limits` limit nothing.
    static func shared(_ key: String, _ limits: Limits) -> SourceLimiter? {
        guard limits.concurrency != nil || limits.requestsPerSecond != nil else { return nil }
        return sources.withLock { sources in
            if let limiter = sources[key] {
                limiter.state.withLock { state in
                    if state.limits != limits { (state.limits, state.rate) = (limits, limits.requestsPerSecond) }
                }
                return limiter
            }
            let limiter = SourceLimiter(limits)
            sources[key] = limiter
            return limiter
        }
    }

    /// A request let through; `release()` it when the answer is read.
    struct Permit {
        let limiter: SourceLimiter

        func release() {
            limiter.state.withLock { $0.inFlight -= 1 }
        }
    }

    /// Waits (checking `item.isStopping`) until a request may start.
    func acquire(item: ItemContext) async throws -> Permit {
        while true {
            let wait: Double? = state.withLock { state in
                let now = ContinuousClock.now
                if let rate = state.rate {
                    state.tokens = min(max(1, rate), state.tokens + (now - state.refilled).inSeconds * rate)
                }
                state.refilled = now
                if let concurrency = state.limits.concurrency, state.inFlight >= concurrency { return 0.01 }
                if let rate = state.rate {
                    guard state.tokens >= 1 else { return (1 - state.tokens) / rate }
                    state.tokens -= 1
                    if let limit = state.limits.requestsPerSecond { state.rate = min(limit, rate * 1.05) }
                }
                state.inFlight += 1
                return nil
            }
            guard let wait else { return Permit(limiter: self) }
            try await StoppableWait.sleep(min(wait, 1), item: item)
        }
    }

    /// The source answered 429: halve the pace.
    func slowDown() {
        state.withLock { state in
            guard let limit = state.limits.requestsPerSecond, let rate = state.rate else { return }
            state.rate = max(limit / 16, rate / 2)
        }
    }
}

extension SourceLimiter.Limits {
    /// `"limits": {"concurrency": 2, "requests_per_second": 5}` from a collector's options.
    init(_ reader: FieldReader) {
        self.init()
        guard let limits = reader.nested("limits", required: false) else { return }
        concurrency = limits.int("concurrency", default: 0, in: 0...10_000).flatMap { $0 == 0 ? nil : $0 }
        requestsPerSecond = limits.number("requests_per_second", default: 0, in: 0...100_000).flatMap { $0 == 0 ? nil : $0 }
        limits.rejectUnknownKeys()
    }
}
