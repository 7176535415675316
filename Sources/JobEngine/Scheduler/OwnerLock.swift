import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Proof that an engine is alive, readable by any other process on the host: an exclusive
/// `flock` on `<store>.owners/<owner>.lock`, held for as long as the engine runs. The kernel drops
/// the lock the instant the process dies (kill -9 included), so a dead owner is detected at once,
/// not after a lease time-out. `flock` locks belong to the open file description, so two engines
/// in one process exclude each other too.
final class OwnerLock: @unchecked Sendable {
    // @unchecked: `descriptor` is written in init and in `release()`, which only the owning engine
    // calls once, at shutdown; the lock itself is kernel state.
    let owner: String
    private let url: URL
    private var descriptor: Int32

    init(owner: String, directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.owner = owner
        url = directory.appendingPathComponent(Self.fileName(owner))
        descriptor = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw EngineError(.storeUnusable, "cannot create the owner lock \(url.path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw EngineError(.storeUnusable, "cannot lock \(url.path): \(String(cString: strerror(errno)))")
        }
    }

    deinit { release() }

    /// Drops the lock and removes its file.
    func release() {
        guard descriptor >= 0 else { return }
        unlink(url.path)
        close(descriptor)
        descriptor = -1
    }

    /// True when `owner` left a lock file in `directory` that nobody holds any more: its process
    /// died. An owner without a file here is on another host (or already cleaned up); the caller
    /// judges it by its lease expiry.
    static func isDead(owner: String, directory: URL) -> Bool? {
        let path = directory.appendingPathComponent(fileName(owner)).path
        let probe = open(path, O_RDWR | O_CLOEXEC)
        guard probe >= 0 else { return nil }
        defer { close(probe) }
        guard flock(probe, LOCK_EX | LOCK_NB) == 0 else { return false }
        unlink(path)
        flock(probe, LOCK_UN)
        return true
    }

    private static func fileName(_ owner: String) -> String {
        owner.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" }.map(String.init).joined() + ".lock"
    }
}
