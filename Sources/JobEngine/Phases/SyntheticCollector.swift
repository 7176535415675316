import Foundation

/// `{"type": "synthetic", "documents": 1000, "page_size": 50, "document_bytes": 512, "latency_ms": 0}`
///
/// A deterministic source for rehearsals and benchmarks: item `q1` yields documents with keys
/// `q1-0` … `q1-<documents-1>`, each body a JSON object `{"key": "q1-<seq>", "text": "…"}` of
/// exactly `document_bytes` bytes (or the smallest such object, if larger) whose text is derived
/// from the key, so any run produces the same bytes. `latency_ms` is slept per page to stand in
/// for a remote source. The cursor is the sequence number of the next document.
struct SyntheticCollector: Collector {
    let documents: Int
    let pageSize: Int
    let documentBytes: Int
    let latencyMilliseconds: Int

    /// The options, read once by one reader for validation and construction alike.
    struct Options {
        let documents: Int
        let pageSize: Int
        let documentBytes: Int
        let latencyMilliseconds: Int

        init(_ reader: FieldReader) {
            documents = reader.int("documents", in: 0...Int.max) ?? 0
            pageSize = reader.int("page_size", default: 50, in: 1...1_000_000) ?? 50
            documentBytes = reader.int("document_bytes", default: 512, in: 0...16_777_216) ?? 512
            latencyMilliseconds = reader.int("latency_ms", default: 0, in: 0...3_600_000) ?? 0
        }
    }

    init(context: ComponentContext) throws {
        let options = try context.read("collector", Options.init)
        documents = options.documents
        pageSize = options.pageSize
        documentBytes = options.documentBytes
        latencyMilliseconds = options.latencyMilliseconds
    }

    static let validate: ComponentRegistry.Validator = { reader, _ in
        _ = Options(reader)
        reader.rejectUnknownKeys()
    }

    func page(after cursor: String?, for item: ItemContext) throws -> Page {
        guard let start = cursor.map({ Int($0) }) ?? 0 else {
            throw PhaseError.permanent("synthetic collector: cursor \"\(cursor ?? "")\" is not a document number")
        }
        if latencyMilliseconds > 0 { Thread.sleep(forTimeInterval: Double(latencyMilliseconds) / 1000) }
        let end = min(documents, start + pageSize)
        let page = (start..<max(start, end)).map { seq in
            let key = "\(item.itemName)-\(seq)"
            return Document(key: key, body: SyntheticDocument.body(key: key, bytes: documentBytes))
        }
        return Page(documents: page, next: end < documents ? String(end) : nil)
    }
}

/// The synthetic collector's documents, public so benchmarks and tests can produce the same bytes.
package enum SyntheticDocument {
    /// `{"key":"<key>","text":"<filler>"}` padded to `bytes`, the filler drawn from a generator
    /// seeded by the key (FNV-1a), so the same key always gives the same body.
    package static func body(key: String, bytes: Int) -> Data {
        let prefix = Array("{\"key\":\"\(key)\",\"text\":\"".utf8)
        let suffix = Array("\"}".utf8)
        let fillerCount = max(0, bytes - prefix.count - suffix.count)
        var state: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 { state = (state ^ UInt64(byte)) &* 0x100_0000_01b3 }
        var output = prefix
        output.reserveCapacity(prefix.count + fillerCount + suffix.count)
        for _ in 0..<fillerCount {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            output.append(UInt8(ascii: "a") + UInt8((state >> 33) % 26))
        }
        output += suffix
        return Data(output)
    }
}
