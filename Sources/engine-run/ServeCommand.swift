import ArgumentParser
import Foundation
import Hummingbird
import JobEngine
import JobEngineHTTP
import Logging

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the REST API and the Jobs page, and run a worker for queued and retried items.",
        discussion: """
            The API key comes from --api-key or $ENGINE_API_KEY; clients send it in the apikey header. Without a
            key, serve refuses to start unless --insecure-no-auth is given. Binds 127.0.0.1 unless --host says
            otherwise. SIGINT/SIGTERM stop gracefully: requests in flight finish, running items stop at their
            next checkpoint (recoverable), and the next serve continues them.
            """)

    @OptionGroup var options: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("The address to listen on.", valueName: "address"))
    var host = "127.0.0.1"

    @Option(name: .long, help: ArgumentHelp("The port to listen on (0: any free port, printed at start).", valueName: "port"))
    var port = 8080

    @Option(name: .long, help: ArgumentHelp("The API key clients must send (default: $ENGINE_API_KEY).", valueName: "key"))
    var apiKey: String?

    @Flag(name: .long, help: "Serve without an API key: anyone who can reach the port may retry and cancel.")
    var insecureNoAuth = false

    @Option(name: .long, help: ArgumentHelp("How often the worker looks for work queued by other processes.", valueName: "seconds"))
    var pollSeconds = 1.0

    @Flag(name: .long, help: "Serve the API and the Jobs page only and run no items here: workers elsewhere (serve or resume processes on this store) run them.")
    var noWorker = false

    @Option(name: .long, help: ArgumentHelp("Seconds a client may take to send a request's headers before it is disconnected.",
                                            valueName: "seconds"))
    var headerTimeout = 10.0

    @Option(name: .long, help: ArgumentHelp("Seconds a client may take to send a request's body.", valueName: "seconds"))
    var bodyTimeout = 30.0

    @Option(name: .long, help: ArgumentHelp("Seconds a connection may stay idle between requests.", valueName: "seconds"))
    var idleTimeout = 60.0

    @Option(name: .long, help: ArgumentHelp("Connections served at once; more wait until one closes.", valueName: "count"))
    var maxConnections = 512

    var key: String? { apiKey ?? ProcessInfo.processInfo.environment["ENGINE_API_KEY"] }

    /// The connection limits the options describe.
    var connectionLimits: ConnectionLimits {
        ConnectionLimits(headerTimeout: .milliseconds(Int(headerTimeout * 1000)), bodyTimeout: .milliseconds(Int(bodyTimeout * 1000)),
                         idleTimeout: .milliseconds(Int(idleTimeout * 1000)), maxConnections: maxConnections)
    }

    func validate() throws {
        if let key, key.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("the API key is empty: give --api-key KEY or set ENGINE_API_KEY to a non-empty key")
        }
        if key == nil && !insecureNoAuth {
            throw ValidationError("no API key: give --api-key KEY or set ENGINE_API_KEY (or, on a trusted host only, --insecure-no-auth)")
        }
        if key != nil && insecureNoAuth {
            throw ValidationError("--insecure-no-auth and an API key exclude each other: drop one")
        }
        if !(0...65535).contains(port) { throw ValidationError("--port \(port) is not a port: use 0 to 65535") }
        for (name, value) in [("--header-timeout", headerTimeout), ("--body-timeout", bodyTimeout), ("--idle-timeout", idleTimeout)]
        where !(value >= 0.1 && value <= 86_400) {
            throw ValidationError("\(name) \(value) is not valid: use a number of seconds from 0.1 to 86400")
        }
        if !(1...100_000).contains(maxConnections) {
            throw ValidationError("--max-connections \(maxConnections) is not valid: use a whole number from 1 to 100000")
        }
        let floor = Worker.minimumPollInterval.inSeconds
        if !(pollSeconds >= floor && pollSeconds <= 3600) {
            throw ValidationError("--poll-seconds \(pollSeconds) is not valid: use a number of seconds from \(floor) (a shorter interval busy-polls the store) to 3600")
        }
    }

    func run() async throws {
        // Metric handles are made when the engine opens, so the metrics backend comes first.
        PrometheusMetrics.bootstrap()
        let engine = try options.openEngine()
        var logger = Logger(label: "engine-run.serve")
        logger.logLevel = options.verbose ? .info : .notice
        let worker = noWorker ? nil : Worker(engine: engine, pollInterval: .milliseconds(Int(pollSeconds * 1000)), logger: logger)
        // ENGINE_SAMPLE_SECONDS: how often the activity charts get a point (30 s; tests use less).
        let sampleSeconds = ProcessInfo.processInfo.environment["ENGINE_SAMPLE_SECONDS"].flatMap(Double.init).map { max(0.1, $0) } ?? 30
        let configuration = APIConfiguration(apiKey: key, connections: connectionLimits,
                                             activitySampleInterval: .milliseconds(Int(sampleSeconds * 1000)))
        let app = buildApplication(engine: engine, worker: worker, configuration: configuration, host: host, port: port,
                                   logger: logger) { [host, storePath = options.storeDisplay, insecureNoAuth] boundPort in
            let authNote = insecureNoAuth ? "no API key (--insecure-no-auth)" : "API key required"
            // Written straight to the descriptor: scripts wait for this line, and stdout may be a pipe.
            let line = "serving the API and the Jobs page on http://\(host):\(boundPort)/ (\(authNote); store \(storePath))\n"
            FileHandle.standardOutput.write(Data(line.utf8))
        }
        do {
            try await app.runService()
        } catch {
            await engine.shutdown()
            throw CommandFailure.usage("cannot serve on \(host):\(port): \(error)")
        }
        await engine.shutdown()
    }
}
