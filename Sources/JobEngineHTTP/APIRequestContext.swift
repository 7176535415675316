import Foundation
import Hummingbird

/// The API's request context: Hummingbird's basic one, with the JSON encoder every answer goes
/// through (sorted keys, unescaped slashes: stable output for people and diffs).
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage

    public init(source: Source) {
        coreContext = .init(source: source)
    }

    public var responseEncoder: JSONEncoder { Self.jsonEncoder }

    /// How the API writes JSON: sorted keys, unescaped slashes.
    static var jsonEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
