import Dispatch
import Logging

/// Renews the leases of the items an engine's threads are working on, every third of the lease, so
/// other workers can tell a live item from a dead one. Only those items: an item no thread works on
/// (its outcome could not be recorded, or a stop abandoned it) lets its lease expire, and a sweep
/// then marks it interrupted (invariant 8).
final class Heartbeat: @unchecked Sendable {
    // @unchecked: the timer is created in init and only cancelled afterwards; DispatchSource
    // objects are thread-safe, they are just not annotated Sendable.
    private let timer: any DispatchSourceTimer

    init(store: any JobStore, owner: String, running: RunningItems, leaseSeconds: Double, logger: Logger) {
        let interval = leaseSeconds / 3
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "JobEngine.heartbeat"))
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler {
            do {
                try store.renewLeases(owner: owner, itemIDs: running.ids, leaseSeconds: leaseSeconds)
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
