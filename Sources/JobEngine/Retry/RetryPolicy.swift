import Foundation

/// When a transiently failed item is retried automatically, and after how long.
///
/// ```swift
/// let policy: RetryPolicy = .exponentialBackoff(maxAttempts: 4, initialMilliseconds: 200)
/// policy.delay(afterAttempt: 1)   // ≈ 0.2 s (with jitter), then ≈ 0.4 s, ≈ 0.8 s
/// ```
/// Attempts count from 1; `maxAttempts` includes the first run.
public struct RetryPolicy: Sendable, Equatable {
    public let maxAttempts: Int
    public let initialMilliseconds: Int
    /// Back-offs never grow past this.
    public let maxMilliseconds: Int

    /// No automatic retry: the first failure waits for a manual retry.
    public static let never = RetryPolicy(maxAttempts: 1, initialMilliseconds: 0, maxMilliseconds: 0)

    /// Retry until `maxAttempts` attempts in all, waiting `initialMilliseconds`, then twice as long
    /// each time (up to `maxMilliseconds`), each wait jittered by ±25% so items failed by one
    /// outage do not hit the source again in lock step.
    public static func exponentialBackoff(
        maxAttempts: Int, initialMilliseconds: Int = 200, maxMilliseconds: Int = 60_000
    ) -> RetryPolicy {
        RetryPolicy(maxAttempts: max(1, maxAttempts), initialMilliseconds: max(0, initialMilliseconds),
                    maxMilliseconds: max(initialMilliseconds, maxMilliseconds))
    }

    /// Whether another automatic attempt follows a transient failure of attempt `attempt`.
    public func shouldRetry(afterAttempt attempt: Int, kind: ErrorKind) -> Bool {
        kind == .transient && attempt < maxAttempts
    }

    /// The wait before the attempt after `attempt`, in seconds.
    public func delay(afterAttempt attempt: Int) -> TimeInterval {
        let exponent = Double(max(0, attempt - 1))
        let base = min(Double(maxMilliseconds), Double(initialMilliseconds) * pow(2, exponent))
        return base * Double.random(in: 0.75...1.25) / 1000
    }
}
