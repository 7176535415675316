import Hummingbird
import JobEngine

/// A route's handler: decode, call the engine, encode.
typealias Handler<Context: RequestContext> = @Sendable (Request, Context) async throws -> Response

/// The routes the application serves, as `METHOD /path/{param}` lines: what the OpenAPI
/// description must document (a test compares the two).
final class RouteCatalog: Sendable {
    private let entries = Locked<[String]>([])

    var routes: [String] { entries.withLock { $0 } }

    func record(_ method: HTTPRequest.Method, _ path: String) {
        let documented = path.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }
        entries.withLock { $0.append("\(method.rawValue) /" + documented.joined(separator: "/")) }
    }
}

/// Registers endpoints on a router or group under `prefix`, noting each in the catalog.
struct Endpoints<Methods: RouterMethods> {
    let routes: Methods
    let prefix: String
    let catalog: RouteCatalog

    /// Every method a client may send to an existing path; the ones a path does not serve get 405.
    /// QUERY is the safe-with-body method of draft-ietf-httpbis-safe-method-w-body.
    static var methods: [HTTPRequest.Method] {
        [.get, .head, .post, .put, .patch, .delete, .options, .trace, HTTPRequest.Method("QUERY")!]
    }

    /// Registers `handlers` for `path` and answers the other methods with 405 and an `Allow` header
    /// (Hummingbird's router would answer them 404, as if the path did not exist).
    func add(_ path: String, _ handlers: KeyValuePairs<HTTPRequest.Method, Handler<Methods.Context>>) {
        let allowed = handlers.map(\.key)
        for (method, handler) in handlers {
            routes.on(RouterPath(path), method: method, use: handler)
            catalog.record(method, prefix + "/" + path)
        }
        for method in Self.methods where !allowed.contains(method) {
            routes.on(RouterPath(path), method: method) { request, _ -> Response in
                throw APIError.methodNotAllowed(request.method, allowed: allowed)
            }
        }
    }
}
