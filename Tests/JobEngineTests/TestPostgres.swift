import Foundation
import JobEngine
import JobEnginePostgres
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

    /// A new store in a schema of its own.
    static func freshStore(hostID: String = "test-host") throws -> PostgresStore {
        try PostgresStore(PostgresLocation(url: freshURL()), hostID: hostID, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }
}
