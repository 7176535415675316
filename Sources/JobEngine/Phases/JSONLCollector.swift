import Foundation

/// `{"type": "jsonl", "path": "in/{item}.jsonl", "page_size": 100, "max_line_bytes": 16777216}`
///
/// Reads documents from a JSON Lines file, one per non-empty line. A line that is an object with a
/// string `key` uses it as the document key; otherwise the key is `<item>@<byte offset>`. The
/// cursor is the byte offset of the next line, so recover continues exactly where the last staged
/// page ended. A line longer than `max_line_bytes` (16 MiB by default) fails the item permanently:
/// without a bound, a file with no newlines (or `/dev/zero`) would be read into memory for ever.
struct JSONLCollector: Collector {
    let url: URL
    let pageSize: Int
    let maxLineBytes: Int

    static let defaultMaxLineBytes = 16 * 1024 * 1024

    /// The options, read once by one reader for validation and construction alike.
    struct Options {
        let path: String?
        let pageSize: Int
        let maxLineBytes: Int

        init(_ reader: FieldReader) {
            path = reader.string("path")
            pageSize = reader.int("page_size", default: 100, in: 1...1_000_000) ?? 100
            maxLineBytes = reader.int("max_line_bytes", default: defaultMaxLineBytes, in: 1...(1 << 30)) ?? defaultMaxLineBytes
        }
    }

    init(context: ComponentContext, item: ItemContext) throws {
        let options = try context.read("collector", Options.init)
        pageSize = options.pageSize
        maxLineBytes = options.maxLineBytes
        url = context.path(options.path ?? "", item: item.itemName)
    }

    static let validate: ComponentRegistry.Validator = { reader, context in
        if let path = Options(reader).path {
            for url in context.paths(path) where !FileManager.default.isReadableFile(atPath: url.path) {
                reader.report("path", "cannot read \(url.path) (no such file, or not readable)")
                break
            }
        }
        reader.rejectUnknownKeys()
    }

    func page(after cursor: String?, for item: ItemContext) throws -> Page {
        guard let start = cursor.map({ UInt64($0) }) ?? 0 else {
            throw PhaseError.permanent("jsonl collector: cursor \"\(cursor ?? "")\" is not a byte offset")
        }
        let handle: FileHandle
        do {
            handle = try FileHandle(forReadingFrom: url)
        } catch {
            throw FileFailure.phaseError(error, doing: "open", path: url.path)
        }
        defer { try? handle.close() }
        try handle.seek(toOffset: start)

        var documents: [Document] = []
        var buffer = Data()
        var offset = start          // byte offset of buffer's first byte
        var scanned = 0             // bytes of buffer already searched for a newline
        var atEnd = false
        while documents.count < pageSize {
            if let newline = buffer[(buffer.startIndex + scanned)...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[buffer.startIndex..<newline]
                try checkLength(line.count, at: offset)
                let lineStart = offset
                offset += UInt64(line.count + 1)
                buffer = Data(buffer[(newline + 1)...])
                scanned = 0
                if let document = Self.document(Data(line), item: item, offset: lineStart) { documents.append(document) }
                continue
            }
            scanned = buffer.count
            try checkLength(buffer.count, at: offset)
            let chunk = try handle.read(upToCount: 64 * 1024) ?? Data()
            if chunk.isEmpty {
                // A last line without a newline is still a document.
                if !buffer.isEmpty, let document = Self.document(buffer, item: item, offset: offset) {
                    documents.append(document)
                    offset += UInt64(buffer.count)
                }
                atEnd = true
                break
            }
            buffer.append(chunk)
        }
        // A full page is not known to be the last: the next call may find the file's end at once and
        // return an empty last page.
        return Page(documents: documents, next: atEnd ? nil : String(offset))
    }

    private func checkLength(_ length: Int, at offset: UInt64) throws {
        guard length > maxLineBytes else { return }
        throw PhaseError.permanent(
            "jsonl collector: the line at byte \(offset) of \(url.path) is longer than max_line_bytes (\(maxLineBytes) bytes); "
                + "fix the file, or raise max_line_bytes if such documents are expected")
    }

    private static func document(_ line: Data, item: ItemContext, offset: UInt64) -> Document? {
        let trimmed = line.last == UInt8(ascii: "\r") ? line.dropLast() : line[...]
        guard trimmed.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }) else { return nil }
        let body = Data(trimmed)
        if let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any], let key = object["key"] as? String {
            return Document(key: key, body: body)
        }
        return Document(key: "\(item.itemName)@\(offset)", body: body)
    }
}
