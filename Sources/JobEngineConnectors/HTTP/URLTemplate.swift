import Foundation
import JobEngine

/// A URL with `{param}` placeholders filled from an item's params (and `{item}`, `{job}`),
/// each value percent-encoded as one query value or path segment.
enum URLTemplate {
    /// - Throws: a permanent `PhaseError` naming a placeholder the item has no param for.
    static func expand(_ template: String, item: ItemContext, component: String) throws -> String {
        var result = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            result += rest[..<open]
            let name = String(rest[rest.index(after: open)..<close])
            let value: String
            switch (name, item.params[name]) {
            case (_, .string(let text)?): value = text
            case (_, .number?), (_, .bool?): value = String(decoding: item.params[name]!.canonicalJSON(), as: UTF8.self)
            case ("item", nil): value = item.itemName
            case ("job", nil): value = item.jobName
            default:
                throw PhaseError.permanent("\(component): the URL names {\(name)}, but item \(item.itemName) has no string or number param \"\(name)\"")
            }
            result += value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? value
            rest = rest[rest.index(after: close)...]
        }
        return result + rest
    }

    /// The `url` option: an http or https URL, with `{param}`, `{item}` and `{job}` placeholders.
    static func read(_ reader: FieldReader) -> String {
        let url = reader.string("url") ?? ""
        if let parsed = URL(string: placeholderFree(url)), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil {} else {
            reader.report("url", "must be an http or https URL (with {param}, {item} or {job} placeholders), got \"\(url)\"")
        }
        return url
    }

    /// The template with its placeholders replaced by a harmless value, for validating its shape.
    static func placeholderFree(_ template: String) -> String {
        template.replacingOccurrences(of: #"\{[^}]*\}"#, with: "x", options: .regularExpression)
    }

    /// RFC 3986's unreserved characters: everything else in a value is encoded.
    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// `url` with query parameter `name` set to `value` (replacing any).
    static func setting(_ name: String, to value: String, in url: String) -> String {
        guard var components = URLComponents(string: url) else { return url }
        // The other parameters keep their encoding as it was: decoding and re-encoding them
        // (`queryItems`) would turn an encoded `+` into a bare one, which servers read as a space.
        let encodedName = name.addingPercentEncoding(withAllowedCharacters: unreserved) ?? name
        var items = (components.percentEncodedQueryItems ?? []).filter { $0.name != encodedName }
        items.append(URLQueryItem(name: encodedName, value: value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? value))
        components.percentEncodedQueryItems = items
        return components.string ?? url
    }

    /// The value of query parameter `name` in `url`.
    static func value(of name: String, in url: String) -> String? {
        URLComponents(string: url)?.queryItems?.first { $0.name == name }?.value
    }
}
