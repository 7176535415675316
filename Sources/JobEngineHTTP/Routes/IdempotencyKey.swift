import Foundation
import HTTPTypes
import Hummingbird

/// The `Idempotency-Key` request header of the retry call (as the IETF draft
/// "The Idempotency-Key HTTP Header Field" and Stripe use it): the same call sent again with the same
/// key gets the first call's answer, marked `Idempotent-Replayed: true`, and starts nothing.
enum IdempotencyKey {
    static let header = HTTPField.Name("Idempotency-Key")!
    static let replayedHeader = HTTPField.Name("Idempotent-Replayed")!

    /// The request's key: 1 to 255 printable ASCII characters (a UUID, say); nil without the header.
    static func of(_ request: Request) throws -> String? {
        guard let key = request.headers[header] else { return nil }
        guard (1...255).contains(key.utf8.count), key.utf8.allSatisfy({ (0x21...0x7e).contains($0) }) else {
            throw APIError.badRequest("invalid_idempotency_key",
                                      "the Idempotency-Key header must be 1 to 255 printable ASCII characters without spaces, a UUID for instance")
        }
        return key
    }
}
