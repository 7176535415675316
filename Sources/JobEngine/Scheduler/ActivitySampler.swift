import Foundation
import Logging
import ServiceLifecycle

/// Takes the samples of job totals the activity charts are drawn from (``Engine/recordActivitySamples()``),
/// every `interval`, until its service group shuts down. `engine-run serve` runs one, also without a
/// worker (`--no-worker`): the page's charts show every process's work, since the totals are the store's.
public struct ActivitySampler: Service {
    public let engine: Engine
    public let interval: Duration
    private let logger: Logger

    public init(engine: Engine, interval: Duration = .seconds(30), logger: Logger = Logger(label: "JobEngine.activity")) {
        self.engine = engine
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        // cancelOnGracefulShutdown: the sleep ends at once when the group stops.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await engine.recordActivitySamples()
                } catch is CancellationError {
                    return
                } catch {
                    // A sample missed is a gap in a chart, not a failure of the server.
                    logger.notice("could not record the activity sample: \(error)")
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
