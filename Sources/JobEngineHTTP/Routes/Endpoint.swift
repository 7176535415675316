import Hummingbird
import JobEngine

/// A route's handler: decode, call the engine, encode.
typealias Handler<Context: RequestContext> = @Sendable (Request, Context) async throws -> Response

/// Registers endpoints on a router or group. Only the methods a path serves are routes (what
/// `router.routes` lists, and what the OpenAPI test compares with `schema/openapi.yaml`); the other
/// methods of a known path get 405 from ``MethodNotAllowed``.
struct Endpoints<Methods: RouterMethods> {
    let routes: Methods

    func add(_ path: String, _ handlers: KeyValuePairs<HTTPRequest.Method, Handler<Methods.Context>>) {
        for (method, handler) in handlers {
            routes.on(RouterPath(path), method: method, use: handler)
        }
    }
}
