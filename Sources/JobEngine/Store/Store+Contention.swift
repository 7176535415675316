import Foundation

extension Store {
    /// Runs `step`, waiting out another process's write lock held past the busy timeout (a long
    /// commit, a backup) for up to ten minutes. For steps that are one transaction each (a bulk
    /// retry's step, an idempotency key's record): one that failed busy changed nothing, so it is
    /// simply asked again.
    static func waitingOutContention<T>(_ step: () async throws -> T) async throws -> T {
        var wait = 0.05
        let deadline = Date().addingTimeInterval(600)
        while true {
            do {
                return try await step()
            } catch let error as SQLiteError where error.isBusy && Date() < deadline {
                try await Task.sleep(for: .seconds(wait))
                wait = min(wait * 2, 1)
            }
        }
    }
}
