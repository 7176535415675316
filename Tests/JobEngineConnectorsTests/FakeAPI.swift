import Foundation
import Hummingbird
import HummingbirdTesting
import HTTPTypes
import JobEngine
import NIOCore

/// A paged JSON API and a receiving endpoint, served on loopback: `GET /items` pages through
/// `records` records `{"id": "r<n>", "n": n}` in whichever way a test asks (a `Link` header, a
/// cursor field, a next-URL field, page numbers, offsets); `POST /ingest` keeps each
/// `Idempotency-Key` once and counts replays.
final class FakeAPI: Sendable {
    struct Knobs: Sendable {
        var records = 25
        var perPage = 10
        /// Page (1-based) → how many more times it answers 500.
        var failPage: [Int: Int] = [:]
        /// The next `GET /items` answering 429 with `Retry-After: 0`.
        var tooMany = 0
        /// Required `X-Api-Key`, when set.
        var apiKey: String?
        /// The next `POST /ingest` answering 503.
        var ingestUnavailable = 0
        /// The seq a batch starts with → how many more times such a batch is answered 500.
        var ingestFailures: [Int: Int] = [:]
        /// Batches starting at this seq are refused with 422 (the receiver rejects their data).
        var ingestRejects: Int?
    }

    private let state = Locked<(knobs: Knobs, pageRequests: [Int: Int], keys: [String: Int], accepted: [JSONValue], replays: Int)>(
        (Knobs(), [:], [:], [], 0))

    init(_ knobs: Knobs = Knobs()) {
        state.withLock { $0.knobs = knobs }
    }

    func set(_ change: (inout Knobs) -> Void) { state.withLock { change(&$0.knobs) } }
    var pageRequests: [Int: Int] { state.withLock { $0.pageRequests } }
    /// The documents the receiver accepted (replays dropped), in arrival order.
    var accepted: [JSONValue] { state.withLock { $0.accepted } }
    /// Batches sent again with a key already accepted.
    var replays: Int { state.withLock { $0.replays } }

    func serve(_ body: @escaping @Sendable (String) async throws -> Void) async throws {
        let app = Application(router: router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            try await body("http://127.0.0.1:\(client.port!)")
        }
    }

    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/items") { [self] request, _ -> Response in
            let query = request.uri.queryParameters
            enum Outcome { case answer(Response), page(Int, start: Int, Knobs) }
            let outcome = state.withLock { state -> Outcome in
                if let key = state.knobs.apiKey, request.headers[HTTPField.Name("X-Api-Key")!] != key {
                    return .answer(Self.json(.unauthorized, #"{"error": "bad key"}"#))
                }
                if state.knobs.tooMany > 0 {
                    state.knobs.tooMany -= 1
                    return .answer(Response(status: .tooManyRequests, headers: [.retryAfter: "0"]))
                }
                let per = state.knobs.perPage
                // The page asked for, by whichever parameter the mode uses.
                var page = 1
                if let number = query.get("page").flatMap({ Int($0) }) {
                    page = number
                } else if let offset = query.get("offset").flatMap({ Int($0) }) {
                    page = offset / per + 1
                } else if let cursor = query.get("cursor"), cursor.hasPrefix("c") {
                    page = Int(cursor.dropFirst()) ?? 1
                }
                // An offset starts where it says; the other modes at their page's first record.
                let start = query.get("offset").flatMap { Int($0) } ?? (page - 1) * per
                state.pageRequests[page, default: 0] += 1
                if let left = state.knobs.failPage[page], left > 0 {
                    state.knobs.failPage[page] = left - 1
                    return .answer(Self.json(.internalServerError, #"{"error": "page \#(page) failed"}"#))
                }
                return .page(page, start: start, state.knobs)
            }
            guard case .page(let page, let start, let knobs) = outcome else {
                if case .answer(let response) = outcome { return response }
                preconditionFailure()
            }
            let records = (start..<max(start, min(knobs.records, start + knobs.perPage))).map {
                JSONValue.object(["id": .string("r\($0)"), "n": .number(Double($0))])
            }
            let last = start + knobs.perPage >= knobs.records
            let base = "/items?q=\(query.get("q") ?? "")"
            var meta: [String: JSONValue] = [:]
            if !last {
                meta["next_cursor"] = .string("c\(page + 1)")
                meta["next_url"] = .string("\(base)&cursor=c\(page + 1)")
            }
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            if !last { headers[HTTPField.Name("Link")!] = "<\(base)&cursor=c\(page + 1)>; rel=\"next\", <\(base)&cursor=c1>; rel=\"first\"" }
            let body = JSONValue.object(["data": .object(["items": .array(records)]), "meta": .object(meta)])
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(data: body.canonicalJSON())))
        }
        router.post("/ingest") { [self] request, _ -> Response in
            let key = request.headers[HTTPField.Name("Idempotency-Key")!] ?? ""
            let body = try await request.body.collect(upTo: 1 << 24)
            let documents: [JSONValue]
            if request.headers[.contentType] == "application/x-ndjson" {
                documents = try body.readableBytesView.split(separator: UInt8(ascii: "\n")).map { try JSONValue.parse(Data($0)) }
            } else if case .array(let array) = try JSONValue.parse(Data(body.readableBytesView)) {
                documents = array
            } else {
                return Self.json(.badRequest, #"{"error": "expected an array"}"#)
            }
            return state.withLock { state -> Response in
                let first: Int = { if case .number(let seq)? = documents.first?["seq"] { return Int(seq) } else { return -1 } }()
                if state.knobs.ingestRejects == first {
                    return Self.json(.unprocessableContent, #"{"error": "field price is not a number"}"#)
                }
                if let left = state.knobs.ingestFailures[first], left > 0 {
                    state.knobs.ingestFailures[first] = left - 1
                    return Self.json(.internalServerError, #"{"error": "disk full"}"#)
                }
                if state.knobs.ingestUnavailable > 0 {
                    state.knobs.ingestUnavailable -= 1
                    return Self.json(.serviceUnavailable, #"{"error": "try later"}"#)
                }
                guard !key.isEmpty else { return Self.json(.badRequest, #"{"error": "Idempotency-Key missing"}"#) }
                if state.keys[key] != nil {
                    state.replays += 1
                } else {
                    state.keys[key] = documents.count
                    state.accepted += documents
                }
                return Self.json(.ok, #"{"accepted": \#(documents.count)}"#)
            }
        }
        return router
    }

    private static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
