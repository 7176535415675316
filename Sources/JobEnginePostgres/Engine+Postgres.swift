import Foundation
import JobEngine
import Logging

extension Engine {
    /// Opens (creating its tables if needed) a store on PostgreSQL, for many workers on many hosts
    /// sharing one database: each worker process opens its own engine on the same URL.
    ///
    /// - Parameters:
    ///   - postgres: `postgres://user[:password]@host[:port]/database`, optionally with
    ///     `?search_path=schema` to keep the store's tables in a schema of their own.
    ///   - access: `.readOnly` for inspecting commands: nothing is written, no migration is applied.
    ///   - hostID: this worker's host, recorded with its leases and transitions; default
    ///     `ENGINE_HOST_ID`, else the machine's hostname.
    ///   - leaseSeconds: how long an item's lease lasts without renewal (renewed every third of it);
    ///     a worker silent for longer loses its items to the others.
    ///   - stopGraceSeconds: as for a SQLite store.
    ///   - logger: where the engine logs.
    /// - Throws: `EngineError` `.storeUnusable` (a bad URL, a server that cannot be reached or
    ///   refuses) or `.storeNewerThanEngine`.
    public convenience init(postgres url: String, access: Access = .readWrite, hostID: String? = nil, leaseSeconds: Double = 30,
                            stopGraceSeconds: Double = 10, logger: Logger = Logger(label: "JobEngine")) throws {
        let host = hostID ?? PostgresStore.defaultHostID
        let store = try PostgresStore(PostgresLocation(url: url), readOnly: access == .readOnly, hostID: host, logger: logger)
        let owner = "\(host):\(getpid()):\(UUID().uuidString.lowercased().prefix(8))"
        try self.init(store: store, access: access, owner: owner, leaseSeconds: leaseSeconds, stopGraceSeconds: stopGraceSeconds,
                      logger: logger)
        register(ingester: PostgresSink.type, validate: PostgresSink.validate) { context, _ in
            try PostgresSink(store: store, context: context)
        }
        refuse(ingester: "jsonl", Self.jsonlRefusal)
    }

    /// Why a `jsonl` sink is refused on a PostgreSQL store: workers on many hosts take items over
    /// from each other, and the JSONL sink's recover (cut the file back to its checkpointed length)
    /// needs the file on the host that wrote it and one writer.
    static let jsonlRefusal = "a jsonl sink cannot be used with a PostgreSQL store: items move between workers on different hosts, and a JSONL file's recover needs the one host that wrote it; use the postgres sink ({\"type\": \"postgres\", \"table\": \"docs\"}), exactly-once on any host"

    /// `registry` as an engine on a PostgreSQL store validates specs: with the `postgres` ingester,
    /// and without `jsonl` (engine-run checks a spec before it opens the store).
    package static func validatingForPostgres(_ registry: ComponentRegistry) -> ComponentRegistry {
        var registry = registry
        registry.register(ingester: PostgresSink.type, validate: PostgresSink.validate) { _, _ in
            throw PhaseError.permanent("the postgres ingester needs an engine on a PostgreSQL store")
        }
        registry.refuse(ingester: "jsonl", jsonlRefusal)
        return registry
    }
}
