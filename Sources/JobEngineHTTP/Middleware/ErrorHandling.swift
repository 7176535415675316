import Hummingbird
import JobEngine
import Logging
import NIOCore
import NIOHTTP1

/// Errors leave the API in one shape, `{"error": {"code", "message"}}`, with the right status,
/// whether the router (404), the body reader (413) or a handler failed. Two middlewares, with the
/// request metrics between them, so the metrics count errors by the status the client gets:
///
/// - ``ErrorTranslation`` (innermost) turns every error into an ``APIError`` and rethrows it;
/// - ``ErrorResponder`` (outermost) writes the thrown ``APIError`` as the JSON response.
struct ErrorTranslation<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as HTTPError {
            throw Self.translate(error, request: request)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw APIError(.contentTooLarge, code: "body_too_large", "the body is too large")
        } catch let error as EngineError where error.code == .unknownJob {
            throw APIError.notFound(error.message)
        } catch let error as EngineError where error.code == .shutDown {
            throw APIError(.serviceUnavailable, code: "shutting_down", "the server is shutting down; try again shortly")
        } catch let error as HTTPParserError {
            // The request's framing was bad (a chunk size that is not hex, a body cut short): the
            // client's fault, not the server's, in the answer, the log and the metrics.
            if case .invalidEOFState = error { throw APIError.clientWentAway }
            throw APIError.badRequest("malformed_request", "the request is not valid HTTP/1.1 (\(error)): check its framing, e.g. chunk sizes")
        } catch let error as ChannelError where error == .ioOnClosedChannel || error == .eof || error == .inputClosed {
            throw APIError.clientWentAway
        } catch {
            context.logger.error("request failed: \(error)", metadata: ["path": "\(request.uri.path)"])
            throw APIError(.internalServerError, code: "internal", "the server could not answer: \(error)")
        }
    }

    private static func translate(_ error: HTTPError, request: Request) -> APIError {
        switch error.status {
        case .notFound:
            return APIError.notFound("no route \(request.method) \(request.uri.path) (see the README for the API)")
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

/// Writes a thrown ``APIError`` (see ``ErrorTranslation``) as the JSON error response.
struct ErrorResponder<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        }
    }
}
