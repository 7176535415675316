import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `{"type": "jsonl", "path": "out/{item}.jsonl", "batch_size": 100}`
///
/// Appends one line per document, `{"item": "<item name>", "seq": <n>, "key": "<key>", "data": <body>}`,
/// to a file of the item's own (the path must hold `{item}`). Each batch's checkpoint stores the
/// file length after the batch; `prepare` truncates the file to that length before a run
/// continues, so a batch written before a crash but never checkpointed is written once, not twice.
/// With `checkpoint.sync: full` each batch is fsynced before its checkpoint commits, and the folder
/// is fsynced after the file is created or removed (a file's own fsync does not make its name
/// durable: after a power loss the file could be gone although its checkpoint is not).
final class JSONLIngester: Ingester {
    private let url: URL
    private let itemName: String
    private let sync: SyncMode
    private var handle: FileHandle?

    /// The options, read once by one reader for validation and construction alike.
    struct Options {
        let path: String?

        init(_ reader: FieldReader) {
            path = reader.string("path")
        }
    }

    init(context: ComponentContext, item: ItemContext) throws {
        url = context.path(try context.read("ingester", Options.init).path ?? "", item: item.itemName)
        itemName = item.itemName
        sync = context.sync
    }

    static let validate: ComponentRegistry.Validator = { reader, context in
        if let path = Options(reader).path {
            if !path.contains("{item}") {
                reader.report("path", "must contain {item} so each work item has a file of its own, e.g. \"out/{item}.jsonl\"")
            } else if let folder = context.paths(path).first?.deletingLastPathComponent(), !JSONLIngester.canCreate(in: folder) {
                reader.report("path", "cannot write to \(folder.path) (not a writable folder)")
            }
        }
        reader.rejectUnknownKeys()
    }

    func prepare(for item: ItemContext, sinkOffset: Int64?) throws {
        let folder = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw FileFailure.phaseError(error, doing: "create the folder", path: folder.path)
        }
        if !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw PhaseError.transient(FileFailure.describe(POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO),
                                                                doing: "create", path: url.path))
            }
            try syncFolder()
        }
        let handle: FileHandle
        do {
            handle = try FileHandle(forUpdating: url)
        } catch {
            throw FileFailure.phaseError(error, doing: "open", path: url.path)
        }
        let length = try handle.seekToEnd()
        let keep = UInt64(sinkOffset ?? 0)
        guard length >= keep else {
            try? handle.close()
            throw PhaseError.permanent(
                "\(url.path) is \(length) bytes, shorter than its checkpoint (\(keep) bytes): it was changed outside the engine; use restart")
        }
        if length > keep {
            // Lines written after the last checkpoint (a crash between the write and its commit) are
            // delivered again by this run: cut them so each document ends up in the file once.
            try handle.truncate(atOffset: keep)
        }
        try handle.seek(toOffset: keep)
        self.handle = handle
    }

    func ingest(_ batch: Batch) throws -> Int64? {
        guard let handle else { preconditionFailure("JSONLIngester.ingest called before prepare") }
        var output = Data()
        let item = JSONText.quoted(itemName)
        for entry in batch.documents {
            output.append(contentsOf: "{\"item\":\(item),\"seq\":\(entry.seq),\"key\":\(JSONText.quoted(entry.document.key)),\"data\":".utf8)
            output.append(JSONText.value(of: entry.document.body))
            output.append(contentsOf: "}\n".utf8)
        }
        do {
            try handle.write(contentsOf: output)
            if sync == .full { try handle.synchronize() }
            return Int64(try handle.offset())
        } catch {
            throw FileFailure.phaseError(error, doing: "write to", path: url.path)
        }
    }

    func reset(for item: ItemContext) throws {
        if FileManager.default.fileExists(atPath: url.path) {
            do {
                try FileManager.default.removeItem(at: url)
            } catch {
                throw FileFailure.phaseError(error, doing: "remove", path: url.path)
            }
            try syncFolder()
        }
    }

    /// With `sync: full`, makes the folder's entries (the file's name) durable.
    private func syncFolder() throws {
        guard sync == .full else { return }
        let folder = url.deletingLastPathComponent().path
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw PhaseError.transient("cannot open \(folder) to sync it: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw PhaseError.transient("cannot sync \(folder): \(String(cString: strerror(errno)))") }
    }

    func finish(for item: ItemContext) {
        try? handle?.close()
        handle = nil
    }

    /// Whether files can be made in `folder`: it is writable, or does not exist yet under a
    /// writable ancestor.
    static func canCreate(in folder: URL) -> Bool {
        var candidate = folder.standardizedFileURL
        while !FileManager.default.fileExists(atPath: candidate.path) {
            let parent = candidate.deletingLastPathComponent()
            if parent.path == candidate.path { return false }
            candidate = parent
        }
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory)
        return isDirectory.boolValue && access(candidate.path, W_OK) == 0
    }
}
