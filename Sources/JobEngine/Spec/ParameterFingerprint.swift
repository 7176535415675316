import Crypto
import Foundation

/// The fingerprint of everything that decides which documents an item produces and where they
/// go: the collector and ingester settings, the item's params and the folder relative paths
/// resolve against. Operational settings (concurrency, retry, checkpoint sync, faults) are left
/// out: changing them cannot mix old and new data, so they must not force a restart.
///
/// It is the SHA-256 of the canonical JSON `{"base_directory":…,"collector":…,"ingester":…,"params":…}`
/// (keys sorted). Everything but the params is the same for every item of a job, so one value
/// encodes it once: a submit of a million items encodes each item's params only.
package struct ParameterFingerprint {
    private let prefix: Data

    package init(spec: JobSpec, baseDirectory: String) {
        func component(_ spec: ComponentSpec) -> JSONValue {
            var object = spec.options
            object["type"] = .string(spec.type)
            return .object(object)
        }
        var prefix = Data(#"{"base_directory":"#.utf8)
        prefix += JSONValue.string(baseDirectory).canonicalJSON()
        prefix += Data(#","collector":"#.utf8) + component(spec.collector).canonicalJSON()
        prefix += Data(#","ingester":"#.utf8) + component(spec.ingester).canonicalJSON()
        prefix += Data(#","params":"#.utf8)
        self.prefix = prefix
    }

    /// The fingerprint of one item of the job.
    package func of(_ params: [String: JSONValue]) -> String {
        of(canonicalParams: JSONValue.object(params).canonicalJSON())
    }

    /// The fingerprint of an item whose params' canonical JSON is `canonicalParams`.
    package func of(canonicalParams: Data) -> String {
        var hasher = SHA256()
        hasher.update(data: prefix)
        hasher.update(data: canonicalParams)
        hasher.update(data: Data("}".utf8))
        return Self.hex(hasher.finalize())
    }

    static func of(spec: JobSpec, item: ItemSpec, baseDirectory: String) -> String {
        ParameterFingerprint(spec: spec, baseDirectory: baseDirectory).of(item.params)
    }

    /// The SHA-256 of `data` in hex.
    package static func hexDigest(_ data: Data) -> String {
        hex(SHA256.hash(data: data))
    }

    private static let digits = Array("0123456789abcdef".utf8)

    private static func hex(_ digest: SHA256.Digest) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        for byte in digest {
            bytes.append(digits[Int(byte >> 4)])
            bytes.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
