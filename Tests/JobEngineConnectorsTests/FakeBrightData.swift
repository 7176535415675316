import Foundation
import Hummingbird
import HummingbirdTesting
import JobEngine
import NIOCore

/// Bright Data's Web Scraper API endpoints as the collector uses them (trigger, progress, parts,
/// part download, snapshot list, snapshot input), served on loopback by a real HTTP server, with
/// knobs for the ways the vendor fails and counters tests assert on.
///
/// A snapshot of `n` inputs holds `recordsPerInput` records per input, one JSON line each; parts
/// hold `batch_size` lines (the download's), the last part the rest.
final class FakeBrightData: Sendable {
    struct Snapshot: Sendable {
        let id: String
        let datasetID: String
        let inputs: [JSONValue]
        let created: Date
        var polls = 0
    }

    struct Knobs: Sendable {
        var token = "secret-token"
        var recordsPerInput = 10
        /// Progress answers "running" this many times per snapshot before "ready".
        var pollsBeforeReady = 1
        /// The parts call answers 202 "building" this many times first.
        var partsBuilding = 0
        /// The next trigger calls answering 429 (with `retryAfter` when set).
        var trigger429 = 0
        var retryAfter: String?
        /// Download failures: part → how many more times it answers 500.
        var failPart: [Int: Int] = [:]
        /// Part → how many more times the connection drops half-way through it.
        var dropPart: [Int: Int] = [:]
        /// The next progress calls answering 500.
        var failProgress = 0
        var expired = false
        var snapshotFails: String?
        /// Seconds the trigger waits after recording the snapshot, before it answers: the window in
        /// which a crash loses the snapshot id.
        var triggerAnswerDelay: Double = 0
        /// Seconds every request takes (so concurrent requests overlap and can be counted).
        var requestDelay: Double = 0
        /// `GET …/snapshot/{id}/input` answers CSV, as Bright Data documents it, instead of JSON.
        var inputAsCSV = false
    }

    private let state = Locked<(knobs: Knobs, snapshots: [String: Snapshot], triggers: [String: Int], partRequests: [Int: Int],
                                progressCalls: Int, formats: Set<String>)>((Knobs(), [:], [:], [:], 0, []))
    /// Requests in flight now, the most there ever were, and when each request arrived.
    private let traffic = Locked<(now: Int, most: Int, arrivals: [Date])>((0, 0, []))

    init(_ knobs: Knobs = Knobs()) {
        state.withLock { $0.knobs = knobs }
    }

    func set(_ change: (inout Knobs) -> Void) { state.withLock { change(&$0.knobs) } }
    func triggers(_ dataset: String) -> Int { state.withLock { $0.triggers[dataset] ?? 0 } }
    var partRequests: [Int: Int] { state.withLock { $0.partRequests } }
    /// Snapshots cancelled through `POST /datasets/v3/snapshot/{id}/cancel`.
    var cancelled: [String] { cancellations.withLock { $0 } }
    private let cancellations = Locked<[String]>([])
    var progressCalls: Int { state.withLock { $0.progressCalls } }
    /// Every `format`/`batch_size` pair a download call used.
    var downloadFormats: Set<String> { state.withLock { $0.formats } }
    /// The most requests the server was answering at once.
    var mostConcurrentRequests: Int { traffic.withLock { $0.most } }
    var arrivals: [Date] { traffic.withLock { $0.arrivals } }

    /// The records the vendor returns for `inputs`, as the lines the sink should hold.
    func records(_ inputs: [JSONValue]) -> [String] {
        let perInput = state.withLock { $0.knobs.recordsPerInput }
        return inputs.enumerated().flatMap { index, input in
            (0..<perInput).map { n in
                String(decoding: JSONValue.object(["input": input, "n": .number(Double(n)), "i": .number(Double(index))]).canonicalJSON(),
                       as: UTF8.self)
            }
        }
    }

    /// Runs `body` with the server listening on a loopback port; its base URL is passed in.
    func serve(_ body: @escaping @Sendable (String) async throws -> Void) async throws {
        let app = Application(router: router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            try await body("http://127.0.0.1:\(client.port!)")
        }
    }

    /// Counts every request in flight, and holds it `requestDelay`.
    private struct Traffic: RouterMiddleware {
        let vendor: FakeBrightData

        func handle(_ request: Request, context: BasicRequestContext,
                    next: (Request, BasicRequestContext) async throws -> Response) async throws -> Response {
            vendor.traffic.withLock { traffic in
                traffic.now += 1
                traffic.most = max(traffic.most, traffic.now)
                traffic.arrivals.append(Date())
            }
            defer { vendor.traffic.withLock { $0.now -= 1 } }
            let delay = vendor.state.withLock { $0.knobs.requestDelay }
            if delay > 0 { try await Task.sleep(for: .milliseconds(Int(delay * 1000))) }
            return try await next(request, context)
        }
    }

    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: Traffic(vendor: self))
        router.post("/datasets/v3/trigger") { [self] request, _ -> Response in
            if let refused = authorize(request) { return refused }
            let dataset = request.uri.queryParameters.get("dataset_id") ?? ""
            let body = try await request.body.collect(upTo: 1 << 20)
            guard case .array(let inputs) = try JSONValue.parse(Data(body.readableBytesView)) else {
                return Self.json(.badRequest, #"{"error": "inputs must be an array"}"#)
            }
            let answer: Response? = state.withLock { state in
                if state.knobs.trigger429 > 0 {
                    state.knobs.trigger429 -= 1
                    var headers = HTTPFields()
                    if let after = state.knobs.retryAfter { headers[.retryAfter] = after }
                    return Response(status: .tooManyRequests, headers: headers)
                }
                return nil
            }
            if let answer { return answer }
            let id: String = state.withLock { state in
                state.triggers[dataset, default: 0] += 1
                let id = "s_\(dataset)_\(state.snapshots.count + 1)"
                state.snapshots[id] = Snapshot(id: id, datasetID: dataset, inputs: inputs, created: Date())
                return id
            }
            let delay = state.withLock { $0.knobs.triggerAnswerDelay }
            if delay > 0 { try await Task.sleep(for: .milliseconds(Int(delay * 1000))) }
            return Self.json(.ok, #"{"snapshot_id": "\#(id)"}"#)
        }
        router.get("/datasets/v3/progress/:id") { [self] request, context -> Response in
            if let refused = authorize(request) { return refused }
            let id = context.parameters.get("id") ?? ""
            return state.withLock { state -> Response in
                state.progressCalls += 1
                if state.knobs.failProgress > 0 {
                    state.knobs.failProgress -= 1
                    return Self.json(.internalServerError, #"{"error": "progress service down"}"#)
                }
                guard var snapshot = state.snapshots[id] else { return Self.json(.notFound, #"{"error": "Snapshot does not exist"}"#) }
                if let reason = state.knobs.snapshotFails {
                    return Self.json(.ok, #"{"status": "failed", "error_message": "\#(reason)"}"#)
                }
                snapshot.polls += 1
                state.snapshots[id] = snapshot
                return Self.json(.ok, #"{"status": "\#(snapshot.polls > state.knobs.pollsBeforeReady ? "ready" : "running")"}"#)
            }
        }
        router.get("/datasets/v3/snapshots") { [self] request, _ -> Response in
            if let refused = authorize(request) { return refused }
            let dataset = request.uri.queryParameters.get("dataset_id") ?? ""
            let from = request.uri.queryParameters.get("from_date").flatMap { ISO8601DateFormatter().date(from: String($0)) } ?? .distantPast
            let list = state.withLock { state in
                state.snapshots.values.filter { $0.datasetID == dataset && $0.created >= from }.sorted { $0.id < $1.id }
                    .map { JSONValue.object(["id": .string($0.id), "status": .string("ready")]) }
            }
            return Self.json(.ok, String(decoding: JSONValue.array(list).canonicalJSON(), as: UTF8.self))
        }
        router.get("/datasets/v3/snapshot/:id/input") { [self] request, context -> Response in
            if let refused = authorize(request) { return refused }
            guard let snapshot = state.withLock({ $0.snapshots[context.parameters.get("id") ?? ""] }) else {
                return Self.json(.notFound, #"{"error": "Snapshot does not exist"}"#)
            }
            guard state.withLock({ $0.knobs.inputAsCSV }) else {
                return Self.json(.ok, String(decoding: JSONValue.array(snapshot.inputs).canonicalJSON(), as: UTF8.self))
            }
            let columns = Set(snapshot.inputs.flatMap { input -> [String] in
                if case .object(let object) = input { return Array(object.keys) }
                return []
            }).sorted()
            func quoted(_ text: String) -> String { "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
            let rows = snapshot.inputs.map { input in
                columns.map { column -> String in
                    switch input[column] {
                    case .string(let text)?: return quoted(text)
                    case let value?: return String(decoding: value.canonicalJSON(), as: UTF8.self)
                    case nil: return ""
                    }
                }.joined(separator: ",")
            }
            let csv = ([columns.joined(separator: ",")] + rows).joined(separator: "\r\n") + "\r\n"
            return Response(status: .ok, headers: [.contentType: "text/csv"], body: ResponseBody(byteBuffer: ByteBuffer(string: csv)))
        }
        router.post("/datasets/v3/snapshot/:id/cancel") { [self] request, context -> Response in
            if let refused = authorize(request) { return refused }
            let id = context.parameters.get("id") ?? ""
            guard state.withLock({ $0.snapshots[id] }) != nil else { return Self.json(.notFound, #"{"error": "Snapshot does not exist"}"#) }
            cancellations.withLock { $0.append(id) }
            return Self.json(.ok, #"{"status": "canceled"}"#)
        }
        router.get("/datasets/v3/snapshot/:id/parts") { [self] request, context -> Response in
            if let refused = authorize(request) { return refused }
            let batch = Int(request.uri.queryParameters.get("batch_size") ?? "") ?? 1_000
            return state.withLock { state -> Response in
                guard let snapshot = state.snapshots[context.parameters.get("id") ?? ""] else {
                    return Self.json(.notFound, #"{"error": "Snapshot does not exist"}"#)
                }
                if state.knobs.expired { return Self.json(.badRequest, #"{"error": "Snapshot is expired"}"#) }
                state.formats.insert("\(request.uri.queryParameters.get("format") ?? "")/\(batch)")
                if state.knobs.partsBuilding > 0 {
                    state.knobs.partsBuilding -= 1
                    return Self.json(.accepted, #"{"status": "building"}"#)
                }
                let records = snapshot.inputs.count * state.knobs.recordsPerInput
                return Self.json(.ok, #"{"parts": \#((records + batch - 1) / batch)}"#)
            }
        }
        router.get("/datasets/v3/snapshot/:id") { [self] request, context -> Response in
            if let refused = authorize(request) { return refused }
            let batch = Int(request.uri.queryParameters.get("batch_size") ?? "") ?? 1_000
            let part = Int(request.uri.queryParameters.get("part") ?? "") ?? 1
            enum Outcome { case answer(Response), drop(String), lines([JSONValue]) }
            let outcome = state.withLock { state -> Outcome in
                guard let snapshot = state.snapshots[context.parameters.get("id") ?? ""] else {
                    return .answer(Self.json(.notFound, #"{"error": "Snapshot does not exist"}"#))
                }
                if state.knobs.expired { return .answer(Self.json(.badRequest, #"{"error": "Snapshot is expired"}"#)) }
                state.partRequests[part, default: 0] += 1
                state.formats.insert("\(request.uri.queryParameters.get("format") ?? "")/\(batch)")
                if let left = state.knobs.failPart[part], left > 0 {
                    state.knobs.failPart[part] = left - 1
                    return .answer(Self.json(.internalServerError, #"{"error": "part \#(part) failed"}"#))
                }
                if let left = state.knobs.dropPart[part], left > 0 {
                    state.knobs.dropPart[part] = left - 1
                    return .drop("{\"half\": ")
                }
                return .lines(snapshot.inputs)
            }
            switch outcome {
            case .answer(let response):
                return response
            case .drop(let start):
                // Declares a body it never finishes: the client sees the connection end mid-part.
                return Response(status: .ok, body: ResponseBody(contentLength: 10_000) { writer in
                    try await writer.write(ByteBuffer(string: start))
                    throw CancellationError()
                })
            case .lines(let inputs):
                let all = records(inputs)
                let slice = all.dropFirst((part - 1) * batch).prefix(batch)
                return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: slice.map { $0 + "\n" }.joined())))
            }
        }
        return router
    }

    private func authorize(_ request: Request) -> Response? {
        let expected = "Bearer " + state.withLock { $0.knobs.token }
        guard let sent = request.headers[.authorization], sent == expected else {
            // Echoes what it was sent, as some APIs do: the collector must scrub it from its error.
            return Self.json(.unauthorized, #"{"error": "invalid token: \#(request.headers[.authorization] ?? "none")"}"#)
        }
        return nil
    }

    private static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
