import Crypto
import Foundation
import JobEngine

/// Collects a paged JSON API: each page is one GET, its documents the records at `records`, and
/// the checkpoint (the cursor) the URL of the next page, whichever way the API names it (a `Link`
/// header, a field holding a URL or a token, a page number, an offset). `recover` fetches again
/// from the first page not yet staged; nothing staged is fetched twice.
struct HTTPCollector: AsyncCollector {
    private let options: HTTPCollectorOptions
    private let client: VendorClient
    private static let component = "http collector"

    init(context: ComponentContext) throws {
        options = try context.read("collector", HTTPCollectorOptions.init)
        client = try .http(options.url, headers: options.headers, call: options.call, component: Self.component)
    }

    func page(after cursor: String?, for item: ItemContext) async throws -> Page {
        let url = try cursor ?? firstURL(item)
        let doing = "\(Self.component) GET \(url)"
        let response = try await client.send(.GET, url, item: item, doing: doing)
        guard (200..<300).contains(response.status) else { throw client.failure(response, doing: doing) }
        let body = try response.json(doing, scrub: client.scrub)
        let records: [JSONValue]
        switch options.records.isEmpty ? body : JSONPath.value(options.records, in: body) {
        case .array(let array)?: records = array
        case nil, .null?: records = []
        case let other?:
            throw PhaseError.permanent("\(doing): \"\(options.records)\" in the response is \(other.typeName), not an array of records")
        }
        let page = String(SHA256.hash(data: Data(url.utf8)).map { String(format: "%02x", $0) }.joined().prefix(12))
        let documents = records.enumerated().map { index, record in
            Document(key: documentKey(record) ?? "\(page)/\(index)", body: record.canonicalJSON())
        }
        return Page(documents: documents, next: try nextURL(after: url, response: response, body: body, count: records.count))
    }

    private func firstURL(_ item: ItemContext) throws -> String {
        let url = try URLTemplate.expand(options.url, item: item, component: Self.component)
        switch options.next {
        case .page: return URLTemplate.setting(options.nextParam, to: String(options.pageStart), in: url)
        case .offset: return URLTemplate.setting(options.nextParam, to: "0", in: url)
        case .link, .field: return url
        }
    }

    private func documentKey(_ record: JSONValue) -> String? {
        guard let key = options.key else { return nil }
        switch record[key] {
        case .string(let text)?: return text
        case .number?, .bool?: return String(decoding: record[key]!.canonicalJSON(), as: UTF8.self)
        default: return nil
        }
    }

    /// The next page's URL; nil after the last page.
    private func nextURL(after url: String, response: VendorResponse, body: JSONValue, count: Int) throws -> String? {
        switch options.next {
        case .link:
            return response.headers[canonicalForm: "Link"].lazy.compactMap { LinkHeader.next(String($0)) }.first.map { Self.resolve($0, against: url) }
        case .field:
            switch JSONPath.value(options.nextField, in: body) {
            case .string(let next)? where !next.isEmpty:
                if next.hasPrefix("http://") || next.hasPrefix("https://") || next.hasPrefix("/") { return Self.resolve(next, against: url) }
                return URLTemplate.setting(options.nextParam, to: next, in: url)
            case .number(let next)?:
                return URLTemplate.setting(options.nextParam, to: String(decoding: JSONValue.number(next).canonicalJSON(), as: UTF8.self), in: url)
            default:
                return nil
            }
        case .page:
            guard count > 0 else { return nil }
            let current = Int(URLTemplate.value(of: options.nextParam, in: url) ?? "") ?? options.pageStart
            return URLTemplate.setting(options.nextParam, to: String(current + 1), in: url)
        case .offset:
            guard count > 0 else { return nil }
            let current = Int(URLTemplate.value(of: options.nextParam, in: url) ?? "") ?? 0
            return URLTemplate.setting(options.nextParam, to: String(current + count), in: url)
        }
    }

    private static func resolve(_ next: String, against base: String) -> String {
        URL(string: next, relativeTo: URL(string: base))?.absoluteString ?? next
    }
}

/// `Link: <https://api.example.com/items?page=2>; rel="next", <…>; rel="last"` (RFC 8288).
enum LinkHeader {
    /// The target of the `rel="next"` link in one header value.
    static func next(_ value: String) -> String? {
        for link in value.split(separator: ",") {
            let parts = link.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let target = parts.first, target.hasPrefix("<"), target.hasSuffix(">") else { continue }
            let isNext = parts.dropFirst().contains { parameter in
                let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                return pair.count == 2 && pair[0].lowercased() == "rel"
                    && pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")).split(separator: " ").contains("next")
            }
            if isNext { return String(target.dropFirst().dropLast()) }
        }
        return nil
    }
}

/// A dotted path into JSON: `data.items`, `meta.next_cursor`, `results.0.id`.
enum JSONPath {
    static func value(_ path: String, in root: JSONValue) -> JSONValue? {
        var current: JSONValue? = root
        for segment in path.split(separator: ".") {
            switch current {
            case .object(let object)?: current = object[String(segment)]
            case .array(let array)?: current = Int(segment).flatMap { array.indices.contains($0) ? array[$0] : nil }
            default: return nil
            }
        }
        return current
    }
}
