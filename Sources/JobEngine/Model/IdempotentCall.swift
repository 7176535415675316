import Foundation

/// Where a call sent with an idempotency key stands: the first of its kind (run it, then record its
/// answer), or one sent again.
package enum IdempotentCall: Sendable, Equatable {
    /// No call with this key ran (or the one that did was abandoned): run it and record its answer.
    case first
    /// The call ran; this is its answer (an HTTP status and body), to send again unchanged.
    case replay(status: Int, answer: String)
    /// The first call with this key is still running.
    case inProgress
    /// The key was used for a different call (another mode, filter or list of ids).
    case mismatch

    /// How long an answer is kept.
    package static let keptSeconds: Double = 86_400
    /// A running first call that was not touched for this long is taken as abandoned (its server
    /// died during it): the same call sent again runs.
    package static let abandonedAfterSeconds: Double = 600
    /// How often a running first call touches its key.
    package static let touchEverySeconds: Double = 60

    /// The digest recorded for a call: two calls are the same call when their digests are equal.
    package static func digest(_ request: Data) -> String {
        ParameterFingerprint.hexDigest(request)
    }
}
