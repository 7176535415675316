/// The page's files (`Resources/`, compiled into the binary by SwiftPM's `.embedInCode`: no bundle
/// to find at run time) as text, and the one templating rule their HTML uses.
enum PageResource {
    static func text(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// `template` with each `{{name}}` replaced by `values[name]` (already escaped by the caller).
    static func fill(_ template: String, _ values: [String: String]) -> String {
        values.reduce(template) { text, entry in text.replacingOccurrences(of: "{{\(entry.key)}}", with: entry.value) }
    }

    static var script: String { text(PackageResources.jobs_js) }
    static var styleSheet: String { text(PackageResources.jobs_css) }
}
