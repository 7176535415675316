// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "JobEngine",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "JobEngine", targets: ["JobEngine"]),
        .executable(name: "engine-run", targets: ["engine-run"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
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
            ]
        ),
        .executableTarget(
            name: "engine-run",
            dependencies: [
                "JobEngine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "BenchmarkWorkloads",
            dependencies: ["JobEngine", "CSQLite", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/Workloads"
        ),
        .executableTarget(
            name: "EngineBenchmarks",
            dependencies: ["BenchmarkWorkloads", "JobEngine", .product(name: "Benchmark", package: "benchmark")],
            path: "Benchmarks/EngineBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "engine-bench",
            dependencies: [
                "BenchmarkWorkloads", "JobEngine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/engine-bench"
        ),
        .testTarget(
            name: "EngineRunTests",
            dependencies: ["engine-run", "CSQLite"]
        ),
        .testTarget(
            name: "JobEngineTests",
            dependencies: ["JobEngine", "CSQLite", .product(name: "Logging", package: "swift-log")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
