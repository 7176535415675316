import Foundation
import JobEngine

/// The options of an `http` collector (a paged JSON API):
///
/// ```json
/// {"type": "http", "url": "https://api.example.com/search?q={query}&per_page=100",
///  "records": "data.items", "next": "field", "next_field": "meta.next_cursor", "next_param": "cursor",
///  "key": "id", "headers": {"Authorization": {"env": "EXAMPLE_TOKEN"}, "Accept": "application/json"},
///  "limits": {"requests_per_second": 5}}
/// ```
struct HTTPCollectorOptions: Sendable {
    /// How the next page is found.
    enum Next: String, CaseIterable, Sendable {
        /// `Link: <…>; rel="next"` (RFC 8288).
        case link
        /// A field of the response: a next URL, or a token sent as `next_param`.
        case field
        /// A page number query parameter, until a page has no records.
        case page
        /// An offset query parameter advanced by each page's record count, until a page has none.
        case offset
    }

    let url: String
    /// The dotted path of the records array in a response; empty: the response is the array.
    let records: String
    let next: Next
    let nextField: String
    let nextParam: String
    let pageStart: Int
    /// A record field that holds the document's key.
    let key: String?
    let headers: SecretHeaders
    let call: CallOptions

    init(_ reader: FieldReader) {
        url = URLTemplate.read(reader)
        records = reader.string("records", required: false) ?? ""
        next = reader.choice("next", default: Next.link)
        nextField = reader.string("next_field", required: next == .field) ?? ""
        nextParam = reader.string("next_param", required: next == .page || next == .offset) ?? (next == .offset ? "offset" : "page")
        pageStart = reader.int("page_start", default: 1, in: 0...1_000_000) ?? 1
        key = reader.string("key", required: false)
        headers = SecretHeaders(reader)
        call = CallOptions(reader, defaultTimeoutSeconds: 30)
    }

    static let validate: ComponentRegistry.Validator = { reader, _ in
        _ = HTTPCollectorOptions(reader)
        reader.rejectUnknownKeys()
    }
}
