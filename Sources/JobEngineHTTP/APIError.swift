import Foundation
import Hummingbird

/// An API error: an HTTP status and the JSON body `{"error": {"code": "...", "message": "..."}}`.
///
/// `code` is stable for clients to branch on; `message` tells a person what was wrong and what
/// would be right.
public struct APIError: Error, HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try JSONBody.response(Body(error: .init(code: code, message: message)), status: status, for: request, context: context)
        response.headers.append(contentsOf: headers)
        return response
    }

    /// The error's JSON body as the API writes it (kept as the answer of an idempotent call).
    var jsonBody: String {
        let body = Body(error: .init(code: code, message: message))
        return (try? APIRequestContext.jsonEncoder.encode(body)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    private struct Body: Encodable {
        struct Detail: Encodable {
            let code: String
            let message: String
        }
        let error: Detail
    }

    static func badRequest(_ code: String, _ message: String) -> APIError { APIError(.badRequest, code: code, message) }
    static func notFound(_ message: String) -> APIError { APIError(.notFound, code: "not_found", message) }

    /// The client closed the connection before its request was complete: nobody reads the answer,
    /// and it is not a server error. 499 as nginx logs it ("client closed request").
    static let clientWentAway = APIError(HTTPResponse.Status(code: 499, reasonPhrase: "Client Closed Request"),
                                         code: "client_closed_request", "the client closed the connection before its request was complete")

    static func methodNotAllowed(_ method: HTTPRequest.Method, allowed: [HTTPRequest.Method]) -> APIError {
        var error = APIError(.methodNotAllowed, code: "method_not_allowed",
                             "\(method) is not allowed here; use \(allowed.map(\.rawValue).joined(separator: " or "))")
        error.headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
        return error
    }
}
