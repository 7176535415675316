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
        // Lock a file under a temporary name, then rename it into place: the lock file never exists
        // unlocked, so `removeStale` can never take a starting engine's file for a dead one's.
        let staging = directory.appendingPathComponent(".\(UUID().uuidString).starting")
        descriptor = open(staging.path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw EngineError(.storeUnusable, "cannot create the owner lock \(url.path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0, rename(staging.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(staging.path)
            close(descriptor)
            throw EngineError(.storeUnusable, "cannot lock \(url.path): \(reason)")
        }
    }

    deinit { release() }

    /// Drops the lock and, with `removingFile`, its file. An engine that leaves items running keeps
    /// the file: an unlocked lock file is how the next engine proves at once that its owner is dead
    /// (a missing one proves nothing, and only the lease would tell).
    func release(removingFile: Bool = true) {
        guard descriptor >= 0 else { return }
        if removingFile { unlink(url.path) }
        close(descriptor)
        descriptor = -1
    }

    /// A new owner id, `<host>:<pid>:<random>`: the host tells other workers whether the owner
    /// lock can be seen from where they run.
    static func makeOwnerID() -> String {
        "\(ProcessInfo.processInfo.hostName):\(getpid()):\(UUID().uuidString.lowercased().prefix(8))"
    }

    static func host(of owner: String) -> Substring {
        owner.split(separator: ":", maxSplits: 1).first ?? ""
    }

    /// What an owner's lock file says about an engine on this host.
    enum Liveness: Equatable {
        /// This probe took the lock: the process that held it is gone.
        case dead
        /// Someone holds the lock.
        case alive
        /// The file is missing or cannot be opened (another OS user's store, say): no proof either way.
        case unknown
    }

    /// Whether `owner`, an engine on this host, is dead. Only a lock actually taken proves death.
    /// The file is opened read-only: `flock` needs no write access, so another OS user can still probe.
    static func probe(owner: String, directory: URL) -> Liveness {
        let path = directory.appendingPathComponent(fileName(owner)).path
        let probe = open(path, O_RDONLY | O_CLOEXEC)
        guard probe >= 0 else { return .unknown }
        defer { close(probe) }
        guard flock(probe, LOCK_EX | LOCK_NB) == 0 else { return errno == EWOULDBLOCK ? .alive : .unknown }
        // The file stays until the sweep has marked the owner's items (`removeStale`): were that to
        // fail, the next sweep still finds the proof.
        flock(probe, LOCK_UN)
        return .dead
    }

    /// Removes the lock files nobody holds: engines that died without running items leave them, and
    /// nothing else would ever look at them again. Returns how many were removed.
    @discardableResult
    static func removeStale(in directory: URL, keeping owners: Set<String> = []) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        let kept = Set(owners.map(fileName))
        var removed = 0
        for name in names where name.hasSuffix(".lock") && !kept.contains(name) {
            let path = directory.appendingPathComponent(name).path
            let probe = open(path, O_RDONLY | O_CLOEXEC)
            guard probe >= 0 else { continue }
            if flock(probe, LOCK_EX | LOCK_NB) == 0 {
                unlink(path)
                removed += 1
            }
            close(probe)
        }
        return removed
    }

    private static func fileName(_ owner: String) -> String {
        owner.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" }.map(String.init).joined() + ".lock"
    }
}
