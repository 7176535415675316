import Foundation
import JobEngine

/// Delivers each batch as one POST, a JSON array (or NDJSON) of
/// `{"item", "seq", "key", "data"}` objects, with `Idempotency-Key: <the batch's key>`: a batch the
/// engine delivers again after a crash (it reached the receiver, its checkpoint did not reach the
/// store) carries the same key, so a receiver that remembers keys drops the replay.
///
/// ```json
/// {"type": "http", "url": "https://sink.example.com/ingest/{job}", "format": "json",
///  "headers": {"Authorization": {"env": "SINK_TOKEN"}}, "batch_size": 100}
/// ```
struct HTTPIngester: AsyncIngester {
    enum Format: String, CaseIterable, Sendable {
        case json, ndjson
    }

    struct Options: Sendable {
        let url: String
        let format: Format
        let headers: SecretHeaders
        let call: CallOptions

        init(_ reader: FieldReader) {
            url = URLTemplate.read(reader)
            format = reader.choice("format", default: Format.json)
            headers = SecretHeaders(reader)
            call = CallOptions(reader, defaultTimeoutSeconds: 30)
        }

        static let validate: ComponentRegistry.Validator = { reader, _ in
            _ = Options(reader)
            reader.rejectUnknownKeys()
        }
    }

    private let options: Options
    private let client: VendorClient
    private static let component = "http ingester"

    init(context: ComponentContext) throws {
        options = try context.read("ingester", Options.init)
        client = try .http(options.url, headers: options.headers, call: options.call, component: Self.component)
    }

    func ingest(_ batch: Batch) async throws -> Int64? {
        let url = try URLTemplate.expand(options.url, item: batch.item, component: Self.component)
        let records = batch.documents.map { document in
            JSONValue.object([
                "item": .string(batch.item.itemName), "seq": .number(Double(document.seq)), "key": .string(document.document.key),
                // A body that is JSON goes as JSON; other bytes as text.
                "data": (try? JSONValue.parse(document.document.body)) ?? .string(String(decoding: document.document.body, as: UTF8.self)),
            ])
        }
        let body: Data
        switch options.format {
        case .json: body = JSONValue.array(records).canonicalJSON()
        case .ndjson: body = Data(records.map { String(decoding: $0.canonicalJSON(), as: UTF8.self) + "\n" }.joined().utf8)
        }
        let doing = "\(Self.component) POST \(url) (batch \(DeliveryKey.of(batch)))"
        let response = try await client.send(.POST, url, body: body,
                                             contentType: options.format == .json ? "application/json" : "application/x-ndjson",
                                             extraHeaders: [("Idempotency-Key", DeliveryKey.of(batch))], item: batch.item, doing: doing)
        guard (200..<300).contains(response.status) else { throw client.failure(response, doing: doing) }
        return nil
    }
}
