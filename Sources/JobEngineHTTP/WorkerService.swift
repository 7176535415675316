import JobEngine
import Logging
import ServiceLifecycle

/// Runs the server's ``Worker`` as a service: on graceful shutdown no new item starts and running
/// items stop at their next checkpoint (recoverable). The engine's owner closes it afterwards.
public struct WorkerService: Service {
    let worker: Worker
    let logger: Logger

    public init(worker: Worker, logger: Logger) {
        self.worker = worker
        self.logger = logger
    }

    public func run() async throws {
        // Items a previous server left interrupted continue where their checkpoints are.
        let recovery = try await worker.engine.recoverInterrupted()
        if !recovery.recovered.isEmpty || !recovery.restarted.isEmpty {
            logger.notice("continuing interrupted work items", metadata: [
                "recovered": "\(recovery.recovered.count)", "restarted": "\(recovery.restarted.count)",
            ])
        }
        await withGracefulShutdownHandler {
            await worker.run()
        } onGracefulShutdown: {
            logger.notice("stopping: running items stop at their next checkpoint")
            worker.stop()
        }
    }
}
