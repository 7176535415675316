import Foundation
import JobEngineTestSupport
@testable import JobEngine
@testable import JobEnginePostgres
import Logging
import Testing

/// The PostgreSQL server the tests use: `JOBENGINE_TEST_POSTGRES_URL`, set by `.ci/run` after it
/// starts a throwaway cluster (`.ci/postgres.sh`). Outside CI without it, the PostgreSQL cases are
/// skipped; with `CI=true` they are required and fail without it.
enum TestPostgres {
    static let url = ProcessInfo.processInfo.environment["JOBENGINE_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static let required = ProcessInfo.processInfo.environment["CI"] == "true"
    static let skipNote: Comment = "JOBENGINE_TEST_POSTGRES_URL is not set: PostgreSQL cases skipped (start one with .ci/postgres.sh; CI=true requires it)"

    /// The server's URL with a schema of its own (`?search_path=t_…`): a store as empty as a new file.
    static func freshURL() throws -> String {
        guard let url else {
            throw EngineError(.storeUnusable, "CI=true requires a PostgreSQL server: JOBENGINE_TEST_POSTGRES_URL is not set")
        }
        let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        return url + (url.contains("?") ? "&" : "?") + "search_path=\(schema)"
    }

    /// The (item, seq) of every row of the `postgres` sink's table `docs` of `engine`'s store, in order.
    static func sinkRows(_ engine: Engine, table: String = "docs") throws -> [(item: String, seq: Int)] {
        guard let store = engine.store as? PostgresStore else { throw EngineError(.storeUnusable, "not a PostgreSQL store") }
        return try store.sessions.withSession { db in
            try db.execute("SELECT item, seq FROM \(table) ORDER BY item, seq").map { ($0.string("item") ?? "", $0.int("seq")) }
        }
    }

    /// Expects the `postgres` sink to hold documents 0..<documents of each item, each once.
    static func expectSinkHoldsEachOnce(_ engine: Engine, items: [String], documents: Int,
                                        sourceLocation: SourceLocation = #_sourceLocation) throws {
        let rows = try sinkRows(engine)
        for item in items {
            #expect(rows.filter { $0.item == item }.map(\.seq) == Array(0..<documents), "postgres sink rows of \(item)",
                    sourceLocation: sourceLocation)
        }
    }

    /// A new store in a schema of its own.
    static func freshStore(hostID: String = "test-host") throws -> PostgresStore {
        try PostgresStore(PostgresLocation(url: freshURL()), hostID: hostID, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }
}

/// Whether `condition` holds within `seconds`, looking every 20 ms (suspending, never blocking).
func eventuallyAsync(seconds: Double, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(TestTime.scaled(seconds))
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}
