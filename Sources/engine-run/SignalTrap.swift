import Dispatch
import Foundation
import JobEngine

/// SIGINT and SIGTERM: the first asks the engine to stop gracefully (running items checkpoint and
/// are left recoverable); a second forces the process out at once.
final class SignalTrap: @unchecked Sendable {
    // @unchecked: `received` is Locked; the sources are thread-safe DispatchSources that are only
    // not annotated Sendable.
    private let sources: [any DispatchSourceSignal]
    private let received = Locked<Int32?>(nil)

    init(engine: Engine) {
        let queue = DispatchQueue(label: "engine-run.signals")
        var sources: [any DispatchSourceSignal] = []
        let received = self.received
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)  // let the dispatch source see it instead of the default handler
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                let first = received.withLock { value -> Bool in
                    defer { value = value ?? number }
                    return value == nil
                }
                guard first else {
                    printError("engine-run: forced exit")
                    _exit(128 + number)
                }
                printError("engine-run: stopping; running items checkpoint and stay recoverable (press Ctrl-C again to force)")
                engine.requestShutdown()
            }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }

    /// The first signal received, if any.
    var receivedSignal: Int32? { received.withLock { $0 } }

    deinit {
        for source in sources { source.cancel() }
    }
}
