import Hummingbird
import HummingbirdCore
import JobEngine
import Logging
import NIOCore

/// Builds the HTTP application: the REST API under `/api/pipelines`, the Jobs page, `/healthz` and
/// `/metrics`. `engine-run serve` and the tests both build it here.
///
/// With a `worker`, the application runs it as a service: retried and queued items run in this
/// process, and graceful shutdown (SIGINT/SIGTERM under `runService()`) lets in-flight requests
/// finish, then stops the worker with its items checkpointed.
///
/// ```swift
/// let engine = try Engine(storePath: "engine.sqlite")
/// let app = buildApplication(engine: engine, worker: Worker(engine: engine),
///                            configuration: APIConfiguration(apiKey: key), host: "127.0.0.1", port: 8080)
/// try await app.runService()
/// ```
public func buildApplication(
    engine: Engine, worker: Worker?, configuration: APIConfiguration, host: String = "127.0.0.1", port: Int = 8080,
    logger: Logger = Logger(label: "JobEngineHTTP"), onServerRunning: @escaping @Sendable (_ port: Int) -> Void = { _ in }
) -> some ApplicationProtocol {
    let router = buildRouter(engine: engine, worker: worker, configuration: configuration)
    let limits = configuration.connections
    // Slow, half-open and idle clients are closed (RequestDeadlineHandler, the idle timeout), and at
    // most `maxConnections` are served at once: memory does not grow with what clients hold open.
    let server = HTTPServerBuilder.http1(configuration: .init(
        additionalChannelHandlers: [RequestDeadlineHandler(headerTimeout: TimeAmount(limits.headerTimeout),
                                                           bodyTimeout: TimeAmount(limits.bodyTimeout),
                                                           idleTimeout: TimeAmount(limits.idleTimeout))],
        idleTimeout: TimeAmount(limits.idleTimeout)))
    var app = Application(router: router, server: server,
                          configuration: .init(address: .hostname(host, port: port), serverName: "JobEngine",
                                               availableConnectionsDelegate: MaximumAvailableConnections(limits.maxConnections)),
                          onServerRunning: { channel in onServerRunning(channel.localAddress?.port ?? port) }, logger: logger)
    if let worker {
        app.addServices(worker)
    }
    if let interval = configuration.activitySampleInterval {
        app.addServices(ActivitySampler(engine: engine, interval: interval, logger: logger))
    }
    return app
}

/// The router of ``buildApplication(engine:worker:configuration:host:port:logger:onServerRunning:)``.
func buildRouter(engine: Engine, worker: Worker?, configuration: APIConfiguration) -> Router<APIRequestContext> {
    let router = Router(context: APIRequestContext.self)
    let methods = MethodNotAllowed<APIRequestContext>()
    // Outermost first: errors are counted by the status the client gets (see ErrorTranslation).
    router.add(middleware: ErrorResponder())
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: ErrorTranslation())
    router.add(middleware: methods)

    var api = router.group("api/pipelines")
    if let key = configuration.apiKey {
        api = api.add(middleware: APIKeyMiddleware(key: key))
    }
    let apiEndpoints = Endpoints(routes: api)
    JobRoutes(engine: engine, configuration: configuration).register(on: apiEndpoints)
    WorkItemRoutes(engine: engine, worker: worker, configuration: configuration).register(on: apiEndpoints)
    let rootEndpoints = Endpoints(routes: router)
    ServiceRoutes(engine: engine, worker: worker).register(on: rootEndpoints)
    PageRoutes<APIRequestContext>(authenticated: configuration.apiKey != nil).register(on: rootEndpoints)
    methods.serve(router.routes.map { ("\($0.path)", $0.method) })
    return router
}
