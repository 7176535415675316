import Foundation
import JobEngine
import NIOSSL
import PostgresNIO

/// Where a PostgreSQL store is: `postgres://user[:password]@host[:port]/database`, optionally
/// `?search_path=schema` (the schema the store's tables live in: several stores in one database,
/// as the tests use). The password, if not in the URL, comes from `PGPASSWORD`.
///
/// Encryption as libpq's `sslmode` says (default `prefer`; `PGSSLMODE` and `PGSSLROOTCERT` are read
/// as libpq reads them): `disable`; `prefer` (TLS when the server offers it, unverified); `require`
/// (TLS or no connection, unverified, unless a root file is given: then as `verify-ca`, as libpq
/// does); `verify-ca` (the server's certificate must chain to a trusted root); `verify-full` (and
/// name the host). Trusted roots: the PEM file `sslrootcert=PATH`, else the system's.
public struct PostgresLocation: Sendable, CustomStringConvertible {
    /// libpq's `sslmode` values this engine honours.
    enum TLSMode: String, CaseIterable, Sendable {
        case disable, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    let host: String
    let port: Int
    let user: String
    let password: String?
    let database: String
    let schema: String?
    let tlsMode: TLSMode
    let tls: PostgresConnection.Configuration.TLS

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
        password = parts.password.map { $0.removingPercentEncoding ?? $0 } ?? ProcessEnvironment.value("PGPASSWORD")
        self.database = database
        let schema = parts.queryItems?.first { $0.name == "search_path" || $0.name == "schema" }?.value
        if let schema, schema.range(of: "^[a-z_][a-z0-9_]{0,62}$", options: .regularExpression) == nil {
            throw refuse("has search_path \(schema), which is not a lower-case identifier")
        }
        self.schema = schema
        let environment = ProcessEnvironment.all
        let mode = parts.queryItems?.first { $0.name == "sslmode" }?.value ?? environment["PGSSLMODE"] ?? TLSMode.prefer.rawValue
        guard let tlsMode = TLSMode(rawValue: mode) else {
            throw refuse("has sslmode=\(mode); use one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let roots = parts.queryItems?.first { $0.name == "sslrootcert" }?.value ?? environment["PGSSLROOTCERT"]
        self.tlsMode = tlsMode == .require && roots != nil ? .verifyCA : tlsMode
        do {
            tls = try Self.tls(self.tlsMode, roots: roots)
        } catch let problem as TLSProblem {
            throw refuse(problem.text)
        }
    }

    private struct TLSProblem: Error { let text: String }

    /// The connection's TLS for `mode`, trusting the certificates of the PEM file `roots` (else the system's).
    private static func tls(_ mode: TLSMode, roots: String?) throws -> PostgresConnection.Configuration.TLS {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch mode {
        case .disable: return .disable
        case .prefer, .require: configuration.certificateVerification = .none
        case .verifyCA: configuration.certificateVerification = .noHostnameVerification
        case .verifyFull: configuration.certificateVerification = .fullVerification
        }
        if let roots {
            guard FileManager.default.isReadableFile(atPath: roots) else {
                throw TLSProblem(text: "has sslrootcert=\(roots), which cannot be read (give a PEM file of the certificates to trust)")
            }
            do {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(roots))
            } catch {
                throw TLSProblem(text: "has sslrootcert=\(roots), which holds no PEM certificate (\(error))")
            }
        }
        do {
            let context = try NIOSSLContext(configuration: configuration)
            return mode == .prefer ? .prefer(context) : .require(context)
        } catch {
            throw TLSProblem(text: "asks for TLS that cannot be set up here (\(error))")
        }
    }

    /// Whether `text` names a PostgreSQL store rather than a SQLite file.
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// The URL without its password, for messages and logs.
    public var description: String {
        let query = (schema.map { ["search_path=\($0)"] } ?? []) + (tlsMode == .prefer ? [] : ["sslmode=\(tlsMode.rawValue)"])
        return "postgres://\(user)@\(host):\(port)/\(database)" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
    }

    /// `url` with its password masked (`***`), or left out.
    public static func redacted(_ url: String, keepPassword: Bool = true) -> String {
        url.replacingOccurrences(of: #"://([^:@/]+):[^@/]*@"#, with: keepPassword ? "://$1:***@" : "://$1@", options: .regularExpression)
    }

    var configuration: PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: user, password: password,
                                                             database: database, tls: tls)
        // The application name tells an operator (pg_stat_activity) which connections are the engine's, and of which store.
        configuration.options.additionalStartupParameters = [("application_name", "jobengine" + (schema.map { ":" + $0 } ?? ""))]
        if let schema { configuration.options.additionalStartupParameters.append(("search_path", schema)) }
        return configuration
    }
}
