import Hummingbird
import JobEngine

/// Answers 405 with an `Allow` header, instead of the router's 404, when a request names a path the
/// application serves with another method: whatever the method (TRACE, QUERY, or one nobody has
/// invented yet). The paths come from `router.routes` once every route is registered.
struct MethodNotAllowed<Context: RequestContext>: RouterMiddleware {
    /// Each served path pattern's components (`{id}` for a capture) with the methods it serves.
    private let table: Locked<[(components: [String], methods: [HTTPRequest.Method])]>

    init() {
        table = Locked([])
    }

    /// Takes the router's routes; call it after every route is added.
    func serve(_ routes: [(path: String, method: HTTPRequest.Method)]) {
        let grouped = Dictionary(grouping: routes, by: \.path)
        table.withLock { table in
            // Literal paths before captures, as the router's trie prefers them: `work-items/retry`
            // (PUT only) answers 405 to a GET although `work-items/{id}` serves GET.
            table = grouped.map { path, entries in
                (path.split(separator: "/").map(String.init), entries.map(\.method))
            }.sorted { $0.components.filter { !$0.hasPrefix("{") }.count > $1.components.filter { !$0.hasPrefix("{") }.count }
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let components = request.uri.path.split(separator: "/").map(String.init)
            let allowed = table.withLock { table in
                table.first { Self.matches($0.components, components) }?.methods
            }
            guard let allowed, !allowed.contains(request.method) else { throw error }
            throw APIError.methodNotAllowed(request.method, allowed: allowed.sorted { $0.rawValue < $1.rawValue })
        }
    }

    private static func matches(_ pattern: [String], _ path: [String]) -> Bool {
        pattern.count == path.count && zip(pattern, path).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
    }
}
