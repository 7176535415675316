import JobEngine

/// Waits that end at once when the item is stopping (the engine shuts down, or the job was
/// cancelled here): a vendor's snapshot can take an hour, and a cancel must not wait for it.
enum StoppableWait {
    /// Sleeps `seconds`, checking `item.isStopping` every 100 ms.
    ///
    /// - Throws: `WaitStopped` once the item is stopping.
    static func sleep(_ seconds: Double, item: ItemContext) async throws {
        let end = ContinuousClock.now + .milliseconds(Int64(max(0, seconds) * 1000))
        while true {
            try item.checkStopping()
            let left = end - .now
            guard left > .zero else { return }
            try await Task.sleep(for: min(left, .milliseconds(100)))
        }
    }
}
