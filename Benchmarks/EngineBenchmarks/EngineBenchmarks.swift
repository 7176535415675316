import Benchmark
import BenchmarkWorkloads
import Foundation
import JobEngine

/// `swift package benchmark` runs these; `BENCHMARK_SMOKE=1` shrinks every size for CI, where the
/// built executable is also run directly as a smoke test. Ratios between them, measured in one
/// run, come from `swift run -c release engine-bench` (see Benchmarks/README.md).
let benchmarks: @Sendable () -> Void = {
    let smoke = ProcessInfo.processInfo.environment["BENCHMARK_SMOKE"] != nil
    let workload = smoke ? ReferenceWorkload.smoke : ReferenceWorkload()
    // Retain/release metrics need a package the mirror lacks; instruction counts are empty on these VMs.
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .peakMemoryResident, .mallocCountTotal],
        timeUnits: .milliseconds,
        maxDuration: .seconds(smoke ? 5 : 60),
        maxIterations: smoke ? 1 : 5)

    Benchmark("reference workload, engine (SQLite store)") { benchmark in
        let folder = ScratchDirectory("engine")
        benchmark.startMeasurement()
        blackHole(try! await EngineWorkloads.runReference(workload, in: folder))
        benchmark.stopMeasurement()
    }

    Benchmark("reference workload, engine (in-memory store)") { benchmark in
        let folder = ScratchDirectory("memory")
        benchmark.startMeasurement()
        blackHole(try! await EngineWorkloads.runReference(workload, in: folder, inMemory: true))
        benchmark.stopMeasurement()
    }

    Benchmark("reference workload, bare SQLite loop") { benchmark in
        let folder = ScratchDirectory("bare")
        benchmark.startMeasurement()
        blackHole(BareSQLite.runReference(workload, storePath: folder.path("bare.sqlite"), sinkPath: folder.path("sink.sqlite")))
        benchmark.stopMeasurement()
    }

    let documents = smoke ? 2_000 : 20_000
    for point in [EngineWorkloads.FailurePoint(fraction: 0.9, phase: .ingest),
                  EngineWorkloads.FailurePoint(fraction: 0.1, phase: .collect)] {
        Benchmark("recover and restart after a failure at \(point), \(documents) documents") { _ in
            blackHole(try! await EngineWorkloads.recoverVersusRestart(documents: documents, at: point))
        }
    }

    for items in smoke ? [1_000] : [10_000, 100_000] {
        Benchmark("resume latency, \(items) items, 100 interrupted") { _ in
            let folder = ScratchDirectory("resume")
            blackHole(try! await SchedulerWorkloads.resumeLatency(items: items, interrupted: 100, in: folder))
        }
    }

    let throughputItems = smoke ? 1_000 : 100_000
    Benchmark("scheduler, \(throughputItems) items of one document",
              configuration: .init(scalingFactor: .one)) { benchmark in
        let folder = ScratchDirectory("throughput")
        benchmark.startMeasurement()
        blackHole(try! await SchedulerWorkloads.engineItemsPerSecond(items: throughputItems, in: folder))
        benchmark.stopMeasurement()
    }
}
