import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import JobEngine
import Logging
import Testing

@testable import JobEngineHTTP

let apiKey = "test-key-0123456789"

let quietLogger: Logger = {
    var logger = Logger(label: "JobEngineHTTP.tests")
    logger.logLevel = .critical
    return logger
}()

/// A store in a temporary folder holding one job that has run once: `items` items of `documents`
/// documents each, those in `failing` failed in ingest (after collecting everything) by an
/// injected sink fault.
final class Fixture: Sendable {
    let folder: URL
    let engine: Engine
    let worker: Worker
    let jobID: UUID
    let documents: Int

    init(items: Int = 3, failing: Set<Int> = [1], documents: Int = 120, pageSize: Int = 20) async throws {
        // swift-metrics must be bootstrapped before the engine opens, or its metrics go nowhere.
        PrometheusMetrics.bootstrap()
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("jobengine-http-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        self.documents = documents
        engine = try Engine(storePath: folder.appendingPathComponent("engine.sqlite").path, logger: quietLogger)
        worker = Worker(engine: engine, pollInterval: .milliseconds(100), logger: quietLogger)
        let names = (0..<items).map { "item-\($0)" }
        let spec = JobSpec(
            name: "http-job", concurrency: 4,
            retry: RetrySpec(maxAttempts: 1, mode: .recover, backoffMilliseconds: 10),
            collector: ComponentSpec(type: "synthetic", options: [
                "documents": .number(Double(documents)), "page_size": .number(Double(pageSize)), "document_bytes": 64,
            ]),
            ingester: ComponentSpec(type: "jsonl", options: ["path": "out/{item}.jsonl", "batch_size": 20]),
            items: names.map { ItemSpec(name: $0) },
            faults: failing.sorted().map {
                FaultSpec(item: "item-\($0)", phase: .ingest, atDocument: documents / 2, times: 1, message: "sink timed out")
            })
        jobID = try await engine.submit(spec, baseDirectory: folder).job.id
        _ = try await engine.run(jobID: jobID)
    }

    deinit {
        engine.close()
        try? FileManager.default.removeItem(at: folder)
    }

    var storePath: String { folder.appendingPathComponent("engine.sqlite").path }

    func items(_ status: WorkItemStatus? = nil) async throws -> [WorkItem] {
        try await engine.items(jobID: jobID, status: status)
    }

    func app(apiKey: String? = apiKey, maxRetryIDs: Int = 1000, maxBodyBytes: Int = 256 * 1024, withWorker: Bool = true)
        -> some ApplicationProtocol
    {
        buildApplication(engine: engine, worker: withWorker ? worker : nil,
                         configuration: APIConfiguration(apiKey: apiKey, maxRetryIDs: maxRetryIDs, maxBodyBytes: maxBodyBytes),
                         port: 0, logger: quietLogger)
    }

    /// Waits (up to `timeout`) until `condition` holds for the item.
    func waitForItem(_ id: UUID, timeout: Duration = .seconds(20), until condition: (WorkItem) -> Bool) async throws -> WorkItem {
        let deadline = ContinuousClock.now + timeout
        while true {
            let item = try #require(try await engine.item(id))
            if condition(item) { return item }
            if ContinuousClock.now > deadline {
                Issue.record("timed out waiting for work item \(item.name): it is \(item.status.rawValue)")
                return item
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

extension TestClientProtocol {
    /// A request with the API key (unless `key` is nil) and, for a body, a JSON content type.
    func call(_ method: HTTPRequest.Method, _ uri: String, key: String? = apiKey, json: String? = nil,
              contentType: String = "application/json") async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let key { headers[HTTPField.Name("apikey")!] = key }
        if json != nil { headers[.contentType] = contentType }
        return try await execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    var object: [String: Any] {
        get throws {
            try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
        }
    }

    /// The `code` of an API error body, after checking the body has the documented shape.
    var errorCode: String {
        get throws {
            let error = try #require(try object["error"] as? [String: Any], "no error object in \(text)")
            let message = try #require(error["message"] as? String)
            #expect(!message.isEmpty)
            return try #require(error["code"] as? String)
        }
    }
}

func retryBody(_ ids: [UUID]) -> String {
    #"{"work_item_ids": [\#(ids.map { "\"\($0.uuidString.lowercased())\"" }.joined(separator: ", "))]}"#
}
