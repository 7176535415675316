import Foundation
import Testing

/// How much longer than usual the tests may take: `JOBENGINE_TEST_TIME_FACTOR` (default 1), e.g.
/// 10 under ThreadSanitizer, where everything runs several times slower and the parallel tests
/// wait for the two cores. Time limits and the waits for a condition scale by it; what a test
/// checks does not change.
public enum TestTime {
    public static let factor: Double = {
        let value = ProcessInfo.processInfo.environment["JOBENGINE_TEST_TIME_FACTOR"].flatMap(Double.init) ?? 1
        return max(1, value)
    }()

    /// `seconds`, scaled.
    public static func scaled(_ seconds: Double) -> Double { seconds * factor }
}

extension Trait where Self == TimeLimitTrait {
    /// `.timeLimit(.minutes(minutes))`, scaled by `TestTime.factor`.
    public static func limit(minutes: Int) -> Self {
        .timeLimit(.minutes(Int((Double(minutes) * TestTime.factor).rounded(.up))))
    }
}
