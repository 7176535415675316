import Foundation
import JobEngineTestSupport
import ServiceLifecycle
import Testing

import JobEngine

/// An embedded pipeline worker: `Worker` is a swift-service-lifecycle `Service` of the library, run
/// in the embedder's own `ServiceGroup` without HTTP (issue 11).
@Suite(.limit(minutes: 1)) struct WorkerServiceTests {
    @Test func aWorkerRunsQueuedJobsInAServiceGroupAndStopsOnGracefulShutdown() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let worker = Worker(engine: engine, pollInterval: .milliseconds(50), logger: quietLogger)
        let group = ServiceGroup(services: [worker], gracefulShutdownSignals: [], cancellationSignals: [], logger: quietLogger)
        let running = Task { try await group.run() }
        let job = try await engine.submit(makeSpec(items: ["a", "b"]), baseDirectory: folder.url).job
        worker.nudge()
        let deadline = Date().addingTimeInterval(TestTime.scaled(30))
        while Date() < deadline, try await engine.items(jobID: job.id).contains(where: { $0.status != .succeeded }) {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await engine.items(jobID: job.id).allSatisfy { $0.status == .succeeded })
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(engine.isStopping)
        await engine.shutdown()
    }
}
