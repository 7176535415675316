import Hummingbird

/// A route's handler: decode, call the engine, encode.
typealias Handler<Context: RequestContext> = @Sendable (Request, Context) async throws -> Response

extension RouterMethods {
    /// Registers `handlers` for `path` and answers the other methods with 405 and an `Allow` header
    /// (Hummingbird's router would answer them 404, as if the path did not exist).
    @discardableResult
    func endpoint(_ path: RouterPath, _ handlers: KeyValuePairs<HTTPRequest.Method, Handler<Context>>) -> Self {
        let allowed = handlers.map(\.key)
        for (method, handler) in handlers {
            on(path, method: method, use: handler)
        }
        for method in [HTTPRequest.Method.get, .head, .post, .put, .patch, .delete, .options] where !allowed.contains(method) {
            on(path, method: method) { request, _ -> Response in
                throw APIError.methodNotAllowed(request.method, allowed: allowed)
            }
        }
        return self
    }
}
