import Hummingbird
import JobEngine

/// `GET /healthz` (no key) and `GET /metrics` (Prometheus text format).
struct ServiceRoutes<Context: RequestContext>: Sendable {
    let engine: Engine
    let worker: Worker?

    func register<Methods: RouterMethods<Context>>(on router: Endpoints<Methods>) {
        // HEAD too: load balancers probe with it.
        router.add("healthz", [.get: health, .head: healthHead])
        router.add("metrics", [.get: metrics])
    }

    /// 200 while the store answers and the engine is not shutting down, else 503.
    @Sendable func health(_ request: Request, context: Context) async throws -> Response {
        guard !engine.isStopping else {
            throw APIError(.serviceUnavailable, code: "shutting_down", "the server is shutting down")
        }
        do {
            _ = try await engine.itemCounts()
        } catch {
            throw APIError(.serviceUnavailable, code: "store_unavailable", "the store does not answer: \(error)")
        }
        return try JSONBody.response(Health(status: "ok", worker: worker == nil ? "off" : "on",
                                        activeJobs: worker?.activeJobs.count ?? 0), for: request, context: context)
    }

    /// `HEAD /healthz`: the status and headers of `GET`, without the body.
    @Sendable func healthHead(_ request: Request, context: Context) async throws -> Response {
        let full = try await health(request, context: context)
        return Response(status: full.status, headers: [.contentType: full.headers[.contentType] ?? "application/json"])
    }

    @Sendable func metrics(_ request: Request, context: Context) async throws -> Response {
        let text = try await PrometheusMetrics.render(engine: engine)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    struct Health: Encodable {
        let status: String
        let worker: String
        let activeJobs: Int

        enum CodingKeys: String, CodingKey {
            case status, worker, activeJobs = "active_jobs"
        }
    }
}
