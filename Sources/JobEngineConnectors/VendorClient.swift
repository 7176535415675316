import AsyncHTTPClient
import Foundation
import JobEngine
import NIOCore
import NIOHTTP1

/// A response read whole.
struct VendorResponse: Sendable {
    let status: Int
    let headers: HTTPHeaders
    let body: Data

    /// The body as JSON.
    ///
    /// - Throws: a transient `PhaseError` naming `doing` when it is not JSON (a proxy's error page
    ///   in front of the API, a truncated answer).
    func json(_ doing: String, scrub: (String) -> String = { $0 }) throws -> JSONValue {
        do {
            return try JSONValue.parse(body)
        } catch {
            throw PhaseError.transient(scrub("\(doing): HTTP \(status) with a body that is not JSON: \(VendorClient.excerpt(body))"))
        }
    }
}

/// Calls a vendor's HTTP API as a long-running pipeline must: 429 and 503 are waited out as the
/// vendor asks (`Retry-After`, in seconds or as a date; without it 2, 4, 8 … s), up to
/// `maxAttempts` tries of one call; a connection error, a timeout or another 5xx fails the call
/// as transient (the item's retry policy and `recover` take it from its checkpoint); other 4xx
/// except 408 are permanent. Secrets (a token in a header) never appear in an error: every
/// message is scrubbed of them, whatever the vendor echoes back.
struct VendorClient: Sendable {
    /// Headers sent with every request, e.g. `Authorization`.
    let headers: [(name: String, value: String)]
    /// Values scrubbed from every error text.
    let secrets: [String]
    let timeoutSeconds: Int
    let maxAttempts: Int
    /// The first back-off without `Retry-After`, doubled at each try.
    let backoffSeconds: Double
    /// Shared by every item that calls the same source in this process (`limits`).
    let limiter: SourceLimiter?

    /// Sends one request, waiting out 429 and 503; returns any other answer for the caller to read
    /// (`failure(_:doing:)` turns an unexpected one into the right error).
    ///
    /// - Throws: a transient `PhaseError` on connection errors and timeouts and when 429/503 outlast
    ///   `maxAttempts`; `WaitStopped` when the item stops while waiting.
    /// With `whileStopping` (a last call for an item that is stopping, e.g. cancelling a vendor's
    /// job) it makes one try, past the limits and without checking the stop.
    func send(_ method: HTTPMethod, _ url: String, body: Data? = nil, contentType: String = "application/json",
              extraHeaders: [(name: String, value: String)] = [], item: ItemContext, doing: String,
              whileStopping: Bool = false) async throws -> VendorResponse {
        var attempt = 1
        while true {
            if !whileStopping { try item.checkStopping() }
            var request = HTTPClientRequest(url: url)
            request.method = method
            for header in headers + extraHeaders { request.headers.add(name: header.name, value: header.value) }
            if let body {
                request.headers.add(name: "Content-Type", value: contentType)
                request.body = .bytes(ByteBuffer(bytes: body))
            }
            let response: VendorResponse
            do {
                let permit = whileStopping ? nil : try await limiter?.acquire(item: item)
                defer { permit?.release() }
                let answer = try await HTTPClient.shared.execute(request, timeout: .seconds(Int64(timeoutSeconds)))
                let bytes = try await answer.body.collect(upTo: 1 << 30)
                response = VendorResponse(status: Int(answer.status.code), headers: answer.headers, body: Data(bytes.readableBytesView))
            } catch let stop as WaitStopped {
                throw stop
            } catch {
                throw PhaseError.transient(scrub("\(doing): \(method.rawValue) \(url) failed: \(error)"))
            }
            guard !whileStopping, response.status == 429 || response.status == 503 else { return response }
            limiter?.slowDown()
            guard attempt < maxAttempts else {
                throw PhaseError.transient(scrub("\(doing): HTTP \(response.status) \(attempt) times in a row (the vendor is rate limiting or unavailable)"))
            }
            let wait = RetryAfter.seconds(response.headers.first(name: "Retry-After"))
                ?? backoffSeconds * Double(1 << min(attempt - 1, 10))
            item.logger.notice("\(doing): HTTP \(response.status); trying again in \(wait) s", metadata: ["attempt": "\(attempt)"])
            try await StoppableWait.sleep(min(wait, 3_600), item: item)
            attempt += 1
        }
    }

    /// The error for an answer the caller did not expect: 408 and 5xx are transient, other codes
    /// permanent.
    func failure(_ response: VendorResponse, doing: String) -> PhaseError {
        let message = scrub("\(doing): HTTP \(response.status): \(Self.excerpt(response.body))")
        return response.status == 408 || response.status >= 500 ? .transient(message) : .permanent(message)
    }

    /// `text` without any secret.
    func scrub(_ text: String) -> String {
        secrets.filter { !$0.isEmpty }.reduce(text) { $0.replacingOccurrences(of: $1, with: "[redacted]") }
    }

    /// The start of a body, for an error message.
    static func excerpt(_ body: Data) -> String {
        let text = String(decoding: body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "(empty body)" : text + (body.count > 300 ? "…" : "")
    }
}
