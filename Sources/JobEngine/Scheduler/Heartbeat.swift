import Dispatch
import Logging

/// Renews the leases of the items an engine runs, every third of the lease, so other workers
/// (on other hosts, where the owner lock cannot be seen) can tell a live item from a dead one.
final class Heartbeat: @unchecked Sendable {
    // @unchecked: the timer is created in init and only cancelled afterwards; DispatchSource
    // objects are thread-safe, they are just not annotated Sendable.
    private let timer: any DispatchSourceTimer

    init(store: Store, owner: String, leaseSeconds: Double, logger: Logger) {
        let interval = leaseSeconds / 3
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "JobEngine.heartbeat"))
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler {
            do {
                try store.renewLeases(owner: owner, leaseSeconds: leaseSeconds)
            } catch {
                logger.warning("could not renew leases: \(error)")
            }
        }
        timer.resume()
    }

    func stop() {
        timer.cancel()
    }
}
