import Foundation

/// File errors in words an operator acts on ("the disk is full", "permission denied") with the path
/// and what to do, instead of Foundation's `Error Domain=NSCocoaErrorDomain Code=640 …` dumps.
enum FileFailure {
    /// `error` (a Foundation or POSIX error) as "what failed on which path: why; what to do".
    static func describe(_ error: any Error, doing action: String, path: String) -> String {
        "cannot \(action) \(path): \(reason(error))"
    }

    /// The transient item error for a failed file operation (a full disk or a permission can be fixed
    /// and the item recovered).
    static func phaseError(_ error: any Error, doing action: String, path: String) -> PhaseError {
        if let phase = error as? PhaseError { return phase }
        return .transient(describe(error, doing: action, path: path))
    }

    static func reason(_ error: any Error) -> String {
        switch errno(of: error) {
        case ENOSPC?, EDQUOT?: return "the disk is full; free space, then retry with recover"
        case EACCES?, EPERM?: return "permission denied; give the engine's user access, or choose another path"
        case EISDIR?: return "it is a folder, not a file; choose a file path"
        case ENOTDIR?: return "a part of the path is a file, not a folder"
        case ENOENT?: return "no such file or folder"
        case EROFS?: return "the file system is read-only"
        case let code?: return String(cString: strerror(code))
        case nil: return (error as NSError).localizedDescription
        }
    }

    /// The POSIX error number behind a Foundation error, if one can be found.
    private static func errno(of error: any Error) -> Int32? {
        let nsError = error as NSError
        if nsError.domain == NSPOSIXErrorDomain { return Int32(nsError.code) }
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return Int32(underlying.code)
        }
        switch CocoaError.Code(rawValue: nsError.code) {
        case .fileWriteOutOfSpace: return ENOSPC
        case .fileWriteNoPermission, .fileReadNoPermission: return EACCES
        case .fileNoSuchFile, .fileReadNoSuchFile: return ENOENT
        case .fileWriteVolumeReadOnly: return EROFS
        default: return nil
        }
    }
}
