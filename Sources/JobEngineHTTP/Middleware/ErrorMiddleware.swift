import Hummingbird
import JobEngine
import Logging

/// Turns every error into the API's JSON error shape with the right status, so clients see one
/// format whether the router (404), the body reader (413) or a handler failed.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch let error as HTTPError {
            return try Self.translate(error, request: request).response(from: request, context: context)
        } catch let error as EngineError where error.code == .unknownJob {
            return try APIError.notFound(error.message).response(from: request, context: context)
        } catch let error as EngineError where error.code == .shutDown {
            return try APIError(.serviceUnavailable, code: "shutting_down", "the server is shutting down; try again shortly")
                .response(from: request, context: context)
        } catch {
            context.logger.error("request failed: \(error)", metadata: ["path": "\(request.uri.path)"])
            return try APIError(.internalServerError, code: "internal", "the server could not answer: \(error)")
                .response(from: request, context: context)
        }
    }

    private static func translate(_ error: HTTPError, request: Request) -> APIError {
        switch error.status {
        case .notFound:
            return APIError.notFound("no route \(request.method) \(request.uri.path) (see GET / or the README for the API)")
        case .contentTooLarge:
            return APIError(.contentTooLarge, code: "body_too_large", error.body ?? "the body is too large")
        default:
            var translated = APIError(error.status, code: error.status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "_"),
                                      error.body ?? error.status.reasonPhrase)
            translated.headers = error.headers
            return translated
        }
    }
}
