/// Why a call with an idempotency key cannot run now.
package enum IdempotencyConflict: Error, Equatable {
    /// The first call with the key is still running.
    case inProgress
    /// The key was used for a different call.
    case otherRequest
}
