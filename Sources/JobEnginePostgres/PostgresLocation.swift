import Foundation
import JobEngine
import PostgresNIO

/// Where a PostgreSQL store is: `postgres://user[:password]@host[:port]/database`, optionally
/// `?search_path=schema` (the schema the store's tables live in: several stores in one database,
/// as the tests use). The password, if not in the URL, comes from `PGPASSWORD`. Connections are not
/// encrypted: keep the database on a private network (TLS is not offered yet).
public struct PostgresLocation: Sendable, CustomStringConvertible {
    let host: String
    let port: Int
    let user: String
    let password: String?
    let database: String
    let schema: String?

    /// Reads a `postgres://` (or `postgresql://`) URL.
    ///
    /// - Throws: `EngineError` `.invalidArgument` naming what is wrong with the URL.
    public init(url: String) throws {
        func refuse(_ problem: String) -> EngineError {
            EngineError(.storeUnusable, "the PostgreSQL URL \(Self.redacted(url)) \(problem); expected postgres://user[:password]@host[:port]/database")
        }
        guard let parts = URLComponents(string: url), let scheme = parts.scheme, ["postgres", "postgresql"].contains(scheme) else {
            throw refuse("is not a postgres:// URL")
        }
        guard let host = parts.host, !host.isEmpty else { throw refuse("has no host") }
        guard let user = parts.user, !user.isEmpty else { throw refuse("has no user") }
        let database = String(parts.path.drop { $0 == "/" })
        guard !database.isEmpty else { throw refuse("names no database") }
        self.host = host
        port = parts.port ?? 5432
        self.user = user.removingPercentEncoding ?? user
        // As libpq does: a URL without a password takes PGPASSWORD's, so none need be written down.
        password = parts.password.map { $0.removingPercentEncoding ?? $0 } ?? ProcessInfo.processInfo.environment["PGPASSWORD"]
        self.database = database
        let schema = parts.queryItems?.first { $0.name == "search_path" || $0.name == "schema" }?.value
        if let schema, schema.range(of: "^[a-z_][a-z0-9_]{0,62}$", options: .regularExpression) == nil {
            throw refuse("has search_path \(schema), which is not a lower-case identifier")
        }
        self.schema = schema
    }

    /// Whether `text` names a PostgreSQL store rather than a SQLite file.
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// The URL without its password, for messages and logs.
    public var description: String {
        "postgres://\(user)@\(host):\(port)/\(database)" + (schema.map { "?search_path=\($0)" } ?? "")
    }

    /// `url` with its password masked (`***`), or left out.
    public static func redacted(_ url: String, keepPassword: Bool = true) -> String {
        url.replacingOccurrences(of: #"://([^:@/]+):[^@/]*@"#, with: keepPassword ? "://$1:***@" : "://$1@", options: .regularExpression)
    }

    var configuration: PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: user, password: password,
                                                             database: database, tls: .disable)
        // The application name tells an operator (pg_stat_activity) which connections are the engine's, and of which store.
        configuration.options.additionalStartupParameters = [("application_name", "jobengine" + (schema.map { ":" + $0 } ?? ""))]
        if let schema { configuration.options.additionalStartupParameters.append(("search_path", schema)) }
        return configuration
    }
}
