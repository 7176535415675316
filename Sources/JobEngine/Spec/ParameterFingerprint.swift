import Crypto
import Foundation

/// The fingerprint of everything that decides which documents an item produces and where they
/// go: the collector and ingester settings, the item's params and the folder relative paths
/// resolve against. Operational settings (concurrency, retry, checkpoint sync, faults) are left
/// out: changing them cannot mix old and new data, so they must not force a restart.
enum ParameterFingerprint {
    static func of(spec: JobSpec, item: ItemSpec, baseDirectory: String) -> String {
        func component(_ spec: ComponentSpec) -> JSONValue {
            var object = spec.options
            object["type"] = .string(spec.type)
            return .object(object)
        }
        let value: JSONValue = [
            "collector": component(spec.collector),
            "ingester": component(spec.ingester),
            "params": .object(item.params),
            "base_directory": .string(baseDirectory),
        ]
        let digest = SHA256.hash(data: value.canonicalJSON())
        return digest.map { String(format: "%02x", $0) }.joined()
    }
}
