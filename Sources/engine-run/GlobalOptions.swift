import ArgumentParser
import Foundation
import JobEngine
import JobEngineConnectors
import JobEnginePostgres
import Logging

/// Options every command takes: where the store is and how much to log.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The store: a SQLite file, or postgres://user@host:port/database for many hosts.",
                                            discussion: "Default: $ENGINE_DB, else ./engine.sqlite.", valueName: "path-or-url"))
    var db: String?

    @Flag(name: .long, help: "Log the engine's progress and errors to stderr.")
    var verbose = false

    var storePath: String { db ?? ProcessInfo.processInfo.environment["ENGINE_DB"] ?? "engine.sqlite" }

    /// `--db PATH` when the store is not the default one, so printed commands work when copied
    /// (a PostgreSQL URL without its password: `PGPASSWORD` supplies it, as for psql).
    var storeArgument: String {
        storePath == "engine.sqlite" ? "" : " --db \(shellQuoted(storeDisplay))"
    }

    /// The types a spec may name with this store: the built-in ones and the connectors, and on a
    /// PostgreSQL store its `postgres` sink (and no `jsonl` sink).
    var specRegistry: ComponentRegistry {
        PostgresLocation.isURL(storePath) ? Engine.validatingForPostgres(Connectors.registry) : Connectors.registry
    }

    /// The store as messages show it: a PostgreSQL URL without its password.
    var storeDisplay: String {
        PostgresLocation.isURL(storePath) ? PostgresLocation.redacted(storePath, keepPassword: false) : storePath
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
        if PostgresLocation.isURL(path) { return try openPostgres(path, readOnly: readOnly, logger: logger) }
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

extension GlobalOptions {
    /// An engine on a PostgreSQL store; its host id is `$ENGINE_HOST_ID` (default the hostname),
    /// its lease `$ENGINE_LEASE_SECONDS` (default 30).
    private func openPostgres(_ url: String, readOnly: Bool, logger: Logger) throws -> Engine {
        do {
            return Self.withConnectors(try Engine(postgres: url, access: readOnly ? .readOnly : .readWrite,
                                                  leaseSeconds: try leaseSeconds(), stopGraceSeconds: try stopGraceSeconds(),
                                                  logger: logger))
        } catch let error as EngineError {
            throw CommandFailure.usage("cannot use the store: \(error.message)")
        }
    }
}

/// `$ENGINE_LEASE_SECONDS` (default 30): how long a worker's lease on an item lasts unrenewed; a
/// worker silent for longer (stopped, partitioned) loses its items to the other workers.
func leaseSeconds() throws -> Double {
    guard let raw = ProcessInfo.processInfo.environment["ENGINE_LEASE_SECONDS"] else { return 30 }
    guard let seconds = Double(raw), seconds >= 1, seconds <= 3600 else {
        throw CommandFailure.usage("ENGINE_LEASE_SECONDS=\(raw) is not valid: use a number of seconds from 1 to 3600")
    }
    return seconds
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
