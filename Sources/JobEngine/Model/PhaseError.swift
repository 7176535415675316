/// The error a collector or ingester throws to say whether retrying can help.
///
/// Any other error a collector or ingester throws counts as transient: a production source fails
/// mostly with time-outs and outages, and a wrong guess costs only one wasted automatic attempt.
public struct PhaseError: Error, Sendable, CustomStringConvertible {
    public let kind: ErrorKind
    public let message: String

    public init(kind: ErrorKind, message: String) {
        self.kind = kind
        self.message = message
    }

    /// An error that may go away on its own (an outage, a time-out): retried automatically.
    public static func transient(_ message: String) -> PhaseError { .init(kind: .transient, message: message) }

    /// An error retrying cannot fix (bad configuration, bad data): not retried automatically.
    public static func permanent(_ message: String) -> PhaseError { .init(kind: .permanent, message: message) }

    public var description: String { message }
}
