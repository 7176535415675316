/// A retry by filter that stopped part-way: the steps before `underlying` committed (`started`
/// retries stay started), the rest did not run. Sending the same filter again retries what is left.
public struct BulkRetryStopped: Error, CustomStringConvertible {
    /// Retries the committed steps started.
    public let started: Int
    /// Why the next step failed.
    public let underlying: any Error

    package init(started: Int, underlying: any Error) {
        self.started = started
        self.underlying = underlying
    }

    public var description: String {
        "the retry by filter stopped after starting \(started) retries: \(underlying)"
    }
}
