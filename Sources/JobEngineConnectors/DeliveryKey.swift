import Crypto
import Foundation
import JobEngine

/// The key a remote sink (an HTTP receiver, a program) deduplicates a batch on:
/// `<item id>:<first seq>-<last seq>:<digest of the documents>`. A batch sent again after a crash
/// holds the same staged documents, so it carries the same key and the receiver drops it. A
/// restarted item collects again: a batch whose documents differ carries a new key (with the bare
/// `Batch.idempotencyKey` a receiver that remembers keys would drop the restarted item's fresh
/// data), and one that holds the same documents the old key, which is right too.
enum DeliveryKey {
    static func of(_ batch: Batch) -> String {
        var digest = SHA256()
        for document in batch.documents {
            digest.update(data: Data(document.document.key.utf8))
            digest.update(data: Data([0]))
            digest.update(data: document.document.body)
            digest.update(data: Data([0]))
        }
        let hex = digest.finalize().prefix(8).map { String(format: "%02x", $0) }.joined()
        return "\(batch.idempotencyKey):\(hex)"
    }
}
