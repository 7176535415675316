import Foundation
import JobEngine
import Metrics
import Prometheus

/// The process's Prometheus registry, bootstrapped into swift-metrics once, so the engine's metrics
/// (checkpoints, documents, retries) and Hummingbird's request metrics all land in it.
///
/// Libraries never choose the global metrics backend (swift-metrics): the executable calls
/// ``bootstrap()`` (`engine-run serve` does), and `/metrics` answers 503 until someone has.
public enum PrometheusMetrics {
    /// Bootstraps swift-metrics with the Prometheus backend, once; later calls return the same
    /// registry. Call it before opening an ``Engine``, whose metric handles are made when it opens.
    @discardableResult
    public static func bootstrap() -> PrometheusCollectorRegistry {
        bootstrapped.withLock { registry in
            if let registry { return registry }
            let made = makeRegistry()
            registry = made
            return made
        }
    }

    private static let bootstrapped = Locked<PrometheusCollectorRegistry?>(nil)

    private static func makeRegistry() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Checkpoint commits take well under the default buckets' first 5 ms.
        factory.durationHistogramBuckets["jobengine_checkpoint_commit_duration_seconds"] = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .seconds(1),
        ]
        factory.nameAndLabelSanitizer = { name, labels in
            (prometheusName(renames[name] ?? name), labels.map { (prometheusName(renames[$0.0] ?? $0.0), $0.1) })
        }
        MetricsSystem.bootstrap(factory)
        return registry
    }

    /// Hummingbird's metric and label names, in Prometheus's conventions.
    private static let renames = [
        "hb.requests": "http_requests_total",
        "hb.request.errors": "http_request_errors_total",
        "http.server.request.duration": "http_request_duration_seconds",
        "http.server.active_requests": "http_active_requests",
        "http.route": "route",
        "http.request.method": "method",
        "http.response.status_code": "status",
        "error.type": "status",
    ]

    /// Prometheus allows `[a-zA-Z_:][a-zA-Z0-9_:]*`; anything else becomes `_`.
    static func prometheusName(_ name: String) -> String {
        String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") ? $0 : "_" })
    }

    /// Sets the `jobengine_work_items{status}` and `jobengine_failed_items{error_kind}` gauges from the
    /// store, then renders the registry. `error_kind="crash_loop"` counts the poison items waiting for
    /// an operator; `"none"` failed items without a kind.
    static func render(engine: Engine) async throws -> String {
        guard let registry = bootstrapped.withLock({ $0 }) else {
            throw APIError(.serviceUnavailable, code: "metrics_not_bootstrapped",
                           "no metrics backend was bootstrapped in this process: call PrometheusMetrics.bootstrap() at start (engine-run serve does)")
        }
        let counts = try await engine.itemCounts()
        let kinds = try await engine.failedItemKinds()
        // Setting the gauges and emitting is one step, so concurrent scrapes each show their own counts.
        return scrape.withLock { _ in
            for status in WorkItemStatus.allCases {
                Gauge(label: "jobengine_work_items", dimensions: [("status", status.rawValue)]).record(counts[status] ?? 0)
            }
            for kind in ErrorKind.allCases.map(Optional.some) + [nil] {
                Gauge(label: "jobengine_failed_items", dimensions: [("error_kind", kind?.rawValue ?? "none")]).record(kinds[kind] ?? 0)
            }
            return registry.emitToString()
        }
    }

    private static let scrape = Locked(())
}
