// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "JobEngine",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "JobEngine", targets: ["JobEngine"]),
        .library(name: "JobEngineConnectors", targets: ["JobEngineConnectors"]),
        .library(name: "JobEnginePostgres", targets: ["JobEnginePostgres"]),
        .executable(name: "engine-run", targets: ["engine-run"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .target(
            name: "JobEngine",
            dependencies: [
                "CSQLite",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Sources and sinks over HTTP and subprocesses (issue 13): apart, so JobEngine has no HTTP client.
        .target(
            name: "JobEngineConnectors",
            dependencies: [
                "JobEngine",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The PostgreSQL store (issue 14): apart, so an embedder on SQLite links no PostgreSQL client.
        .target(
            name: "JobEnginePostgres",
            dependencies: [
                "JobEngine",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "JobEngineHTTP",
            dependencies: [
                "JobEngine",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ],
            // The Jobs page's files, compiled into the binary (no bundle to find at run time).
            resources: [
                .embedInCode("Resources/layout.html"), .embedInCode("Resources/job_list.html"),
                .embedInCode("Resources/job.html"), .embedInCode("Resources/not_found.html"),
                .embedInCode("Resources/jobs.js"), .embedInCode("Resources/jobs.css"),
            ]
        ),
        .executableTarget(
            name: "engine-run",
            dependencies: [
                "JobEngine",
                "JobEngineHTTP",
                "JobEngineConnectors",
                "JobEnginePostgres",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "BenchmarkWorkloads",
            dependencies: ["JobEngine", "JobEnginePostgres", "CSQLite", "PlainSQLiteLoop", .product(name: "Logging", package: "swift-log"),
                           .product(name: "PostgresNIO", package: "postgres-nio")],
            path: "Benchmarks/Workloads"
        ),
        // The plain C loop over SQLite that the reference workload is compared with (issue 12).
        .target(
            name: "PlainSQLiteLoop",
            path: "Benchmarks/PlainLoop",
            linkerSettings: [.linkedLibrary("sqlite3")]
        ),
        .executableTarget(
            name: "engine-bench",
            dependencies: [
                "BenchmarkWorkloads", "JobEngine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/engine-bench"
        ),
        // What the test targets share: time limits and waits that scale on slow (sanitizer) runs.
        .target(name: "JobEngineTestSupport", path: "Tests/TestSupport"),
        .testTarget(
            name: "EngineRunTests",
            dependencies: ["engine-run", "CSQLite", "JobEngine", "JobEnginePostgres", "JobEngineTestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "JobEngineHTTPTests",
            dependencies: [
                "JobEngineHTTP", "JobEngine",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "JobEngineConnectorsTests",
            dependencies: [
                "JobEngineConnectors", "JobEngine", "CSQLite", "engine-run", "JobEngineTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "JobEngineTests",
            dependencies: [
                "JobEngine", "CSQLite", "JobEnginePostgres", "JobEngineTestSupport", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// The package-benchmark suite (and its malloc interposer) only when asked for, as Hummingbird does:
// an embedder resolving JobEngine should not fetch a benchmark harness. `.ci/run` sets it.
if Context.environment["ENABLE_JOBENGINE_BENCHMARKS"] != nil {
    package.dependencies.append(.package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]))
    package.targets.append(.executableTarget(
        name: "EngineBenchmarks",
        dependencies: ["BenchmarkWorkloads", "JobEngine", .product(name: "Benchmark", package: "benchmark")],
        path: "Benchmarks/EngineBenchmarks",
        plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    ))
}
