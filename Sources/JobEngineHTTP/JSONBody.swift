import Foundation
import Hummingbird
import JobEngine

/// JSON in and out of the API.
enum JSONBody {
    /// `value` encoded by the context's response encoder (``APIRequestContext``'s: sorted keys,
    /// unescaped slashes), with `status`. An encoding failure throws, and is answered as a 500.
    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok, for request: Request,
                         context: some RequestContext) throws -> Response {
        var response = try context.responseEncoder.encode(value, from: request, context: context)
        response.status = status
        return response
    }

    /// The request's body as a JSON value, after checking its content type (415) and size (413).
    static func read(_ request: Request, limit: Int) async throws -> JSONValue {
        let contentType = request.headers[.contentType] ?? ""
        let mediaType = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        guard mediaType == "application/json" else {
            throw APIError(.unsupportedMediaType, code: "unsupported_media_type",
                           contentType.isEmpty ? "the body must be JSON: send Content-Type: application/json"
                                               : "the body must be JSON (Content-Type: application/json), not \(contentType)")
        }
        let tooLarge = APIError(.contentTooLarge, code: "body_too_large", "the body is larger than the limit of \(limit) bytes")
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit { throw tooLarge }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw tooLarge
        }
        do {
            return try JSONValue.parse(Data(buffer: buffer))
        } catch {
            throw APIError.badRequest("invalid_json", "the body is not valid JSON: \(describe(error))")
        }
    }

    private static func describe(_ error: any Error) -> String {
        let nsError = error as NSError
        return (nsError.userInfo[NSDebugDescriptionErrorKey] as? String) ?? nsError.localizedDescription
    }
}
