import Foundation

/// The observers of an engine's events, called on the thread that emits.
final class EventHub: Sendable {
    private let observers = Locked<[UUID: @Sendable (EngineEvent) -> Void]>([:])

    func add(_ handler: @escaping @Sendable (EngineEvent) -> Void) -> UUID {
        let token = UUID()
        observers.withLock { $0[token] = handler }
        return token
    }

    func remove(_ token: UUID) {
        observers.withLock { $0[token] = nil }
    }

    func removeAll() {
        observers.withLock { $0.removeAll() }
    }

    func emit(_ event: EngineEvent) {
        // Call outside the lock, so a handler may add or remove observers.
        for observer in observers.withLock({ Array($0.values) }) { observer(event) }
    }
}
