import ArgumentParser
import Foundation
import JobEngine
import JobEngineConnectors
import Logging

/// Options every command takes: where the store is and how much to log.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The store file.", discussion: "Default: $ENGINE_DB, else ./engine.sqlite.",
                                            valueName: "path"))
    var db: String?

    @Flag(name: .long, help: "Log the engine's progress and errors to stderr.")
    var verbose = false

    var storePath: String { db ?? ProcessInfo.processInfo.environment["ENGINE_DB"] ?? "engine.sqlite" }

    /// `--db PATH` when the store is not the default one, so printed commands work when copied.
    var storeArgument: String {
        storePath == "engine.sqlite" ? "" : " --db \(shellQuoted(storePath))"
    }

    /// Opens the engine on the store, turning the ways a store can be unusable into exit code 2.
    ///
    /// `readOnly` is for commands that only read (`items`, `status`, `history`): they write nothing,
    /// take no owner lock and never sweep, so they work on another OS user's store, a read-only file
    /// or a full disk, and can never judge a live worker dead. A store that does not exist yet is
    /// created as for any command.
    /// `engine` with the connector types (`brightdata`, …) registered: specs run by `engine-run` may name them.
    private static func withConnectors(_ engine: Engine) -> Engine {
        Connectors.register(on: engine)
        return engine
    }

    func openEngine(readOnly: Bool = false) throws -> Engine {
        var logger = Logger(label: "engine-run")
        logger.logLevel = verbose ? .info : .critical
        let path = storePath
        if readOnly && FileManager.default.fileExists(atPath: path) {
            do {
                return Self.withConnectors(try Engine(storePath: path, access: .readOnly, logger: logger))
            } catch let error as EngineError {
                throw CommandFailure.usage("cannot read the store \(path): \(error.message)")
            } catch let error as SQLiteError {
                throw CommandFailure.usage("cannot read the store \(path): \(CommandFailure.describe(error))")
            }
        }
        if FileManager.default.fileExists(atPath: path) {
            let mode = (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? 0o600
            // Checked by mode, not access(2): root may write anyway, but an operator who made the store
            // read-only meant it.
            if mode & 0o222 == 0 || (access(path, W_OK) != 0) {
                throw CommandFailure.usage("the store \(path) is read-only (mode \(String(mode, radix: 8))); engine-run needs to write to it")
            }
        } else {
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw CommandFailure.usage("cannot create the store \(path): the folder \(folder) does not exist")
            }
        }
        do {
            return Self.withConnectors(try Engine(storePath: path, stopGraceSeconds: try stopGraceSeconds(), logger: logger))
        } catch let error as EngineError {
            throw CommandFailure.usage("cannot use the store \(path): \(error.message)")
        } catch let error as SQLiteError {
            throw CommandFailure.usage("cannot use the store \(path): \(CommandFailure.describe(error))")
        }
    }
}

/// `$ENGINE_STOP_GRACE_SECONDS` (default 10): after SIGINT/SIGTERM, how long a collector or sink
/// call may take before its item is abandoned and the process exits.
func stopGraceSeconds() throws -> Double {
    guard let raw = ProcessInfo.processInfo.environment["ENGINE_STOP_GRACE_SECONDS"] else { return 10 }
    guard let seconds = Double(raw), seconds >= 0.1, seconds <= 3600 else {
        throw CommandFailure.usage("ENGINE_STOP_GRACE_SECONDS=\(raw) is not valid: use a number of seconds from 0.1 to 3600")
    }
    return seconds
}

/// `text` quoted for a POSIX shell when it needs it.
func shellQuoted(_ text: String) -> String {
    let safe = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_./=:@%+,"))
    if !text.isEmpty && text.unicodeScalars.allSatisfy(safe.contains) { return text }
    return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
