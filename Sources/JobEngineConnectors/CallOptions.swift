import Foundation
import JobEngine

/// How a connector calls its source, from its options: `timeout_seconds` per request,
/// `max_attempts` tries of a request answered 429/503, the first back-off `backoff_seconds`, and
/// the source's `limits`. Read once here for every connector that calls over HTTP.
struct CallOptions: Sendable {
    let timeoutSeconds: Int
    let maxAttempts: Int
    let backoffSeconds: Double
    let limits: SourceLimiter.Limits

    init(_ reader: FieldReader, defaultTimeoutSeconds: Int) {
        timeoutSeconds = reader.int("timeout_seconds", default: defaultTimeoutSeconds, in: 1...3_600) ?? defaultTimeoutSeconds
        maxAttempts = reader.int("max_attempts", default: 5, in: 1...100) ?? 5
        backoffSeconds = reader.number("backoff_seconds", default: 2, in: 0...600) ?? 2
        limits = SourceLimiter.Limits(reader)
    }
}

extension VendorClient {
    /// A client calling `source` (the key its limits are shared under) as `call` says.
    init(_ call: CallOptions, headers: [(name: String, value: String)], secrets: [String], source: String) {
        self.init(headers: headers, secrets: secrets, timeoutSeconds: call.timeoutSeconds, maxAttempts: call.maxAttempts,
                  backoffSeconds: call.backoffSeconds, limiter: SourceLimiter.shared(source, call.limits))
    }

    /// A client for the HTTP endpoint `url` (a template), with `headers`' secrets read from the
    /// environment; its limits are shared per host.
    ///
    /// - Throws: a permanent `PhaseError` naming a secret's variable that is not set.
    static func http(_ url: String, headers: SecretHeaders, call: CallOptions, component: String) throws -> VendorClient {
        let (resolved, secrets) = try headers.resolve(component: component)
        let host = URL(string: URLTemplate.placeholderFree(url))?.host ?? url
        return VendorClient(call, headers: resolved, secrets: secrets, source: "http \(host)")
    }
}
