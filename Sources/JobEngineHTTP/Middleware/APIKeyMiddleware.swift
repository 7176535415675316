import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// Lets a request through only with the right `apikey` header.
///
/// The header is checked with `HMAC.isValidAuthenticationCode`, which swift-crypto compares in
/// constant time: the timing shows neither the key's length nor how many leading bytes matched.
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    static var headerName: HTTPField.Name { HTTPField.Name("apikey")! }

    /// A per-process random key (as bytes: swift-crypto's `SymmetricKey` is not `Sendable`), so the
    /// stored code says nothing about the API key by itself.
    private let macKey = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
    private let expected: Data

    init(key: String) {
        expected = Data(HMAC<SHA256>.authenticationCode(for: Data(key.utf8), using: SymmetricKey(data: macKey)))
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let given = request.headers[Self.headerName] else {
            throw APIError(.unauthorized, code: "missing_api_key", "send the API key in the apikey header")
        }
        guard HMAC<SHA256>.isValidAuthenticationCode(expected, authenticating: Data(given.utf8),
                                                         using: SymmetricKey(data: macKey)) else {
            throw APIError(.unauthorized, code: "invalid_api_key", "the apikey header does not match the server's API key")
        }
        return try await next(request, context)
    }
}
