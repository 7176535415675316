import Foundation
import Logging
import Testing

@testable import JobEngine
@testable import JobEnginePostgres

/// Connections to PostgreSQL encrypted as libpq's `sslmode` says, against the test cluster, which
/// offers TLS with a self-signed certificate for 127.0.0.1 and localhost (`.ci/postgres.sh`).
@Suite(.enabled(if: TestPostgres.url != nil || TestPostgres.required, TestPostgres.skipNote))
struct PostgresTLSTests {
    let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// The test server's URL with `query` (and `host` in place of its own).
    func url(_ query: String, host: String? = nil) throws -> String {
        let base = try #require(TestPostgres.url)
        var parts = try #require(URLComponents(string: base))
        if let host { parts.host = host }
        parts.query = [parts.query, query].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "&")
        return try #require(parts.string)
    }

    /// Whether a connection made with `url` is encrypted, as the server sees it.
    func encrypted(_ url: String) throws -> Bool {
        let sessions = PostgresSessions(try PostgresLocation(url: url), maximum: 1, logger: quiet)
        defer { sessions.close() }
        return try sessions.withSession(retrying: false) { db in
            try db.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").first?.int("ssl") == 1
        }
    }

    /// The server's certificate file; nil (a skip outside CI) when the server offers no TLS.
    func serverCertificate() throws -> String? {
        let sessions = PostgresSessions(try PostgresLocation(url: try url("sslmode=disable")), maximum: 1, logger: quiet)
        defer { sessions.close() }
        let (on, file) = try sessions.withSession(retrying: false) { db in
            (try db.execute("SHOW ssl").first?.string("ssl") == "on", try db.execute("SHOW ssl_cert_file").first?.string("ssl_cert_file"))
        }
        if !on && TestPostgres.required { Issue.record("the CI cluster must offer TLS (.ci/postgres.sh starts it with ssl=on)") }
        return on ? file : nil
    }

    /// A self-signed certificate the server's is not signed by.
    func strangerCertificate(in folder: TemporaryDirectory) throws -> String {
        let path = folder.url.appendingPathComponent("stranger.crt").path
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        openssl.arguments = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                             "-keyout", folder.url.appendingPathComponent("stranger.key").path, "-out", path]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        #expect(openssl.terminationStatus == 0)
        return path
    }

    @Test func eachSSLModeConnectsAsLibpqWould() throws {
        guard let certificate = try serverCertificate() else { return }
        #expect(try encrypted(url("sslmode=disable")) == false)
        #expect(try encrypted(url("")) == true, "prefer, the default: TLS when offered")
        #expect(try encrypted(url("sslmode=require")) == true)
        #expect(try encrypted(url("sslmode=verify-ca&sslrootcert=\(certificate)")) == true)
        #expect(try encrypted(url("sslmode=verify-full&sslrootcert=\(certificate)", host: "localhost")) == true,
                "the certificate names localhost")
    }

    @Test func aServerNotSignedByTheTrustedRootIsRefused() throws {
        guard try serverCertificate() != nil else { return }
        let folder = try TemporaryDirectory()
        let stranger = try strangerCertificate(in: folder)
        for mode in ["verify-ca", "verify-full", "require"] {  // require with a root file verifies, as libpq does
            let error = #expect(throws: EngineError.self) {
                try PostgresStore(PostgresLocation(url: try url("sslmode=\(mode)&sslrootcert=\(stranger)")), logger: quiet)
            }
            #expect(error?.code == .storeUnusable, "\(mode): \(String(describing: error))")
            #expect(error?.message.lowercased().contains("certificate") == true, "\(mode): \(error?.message ?? "")")
        }
    }

    @Test func aBadSSLModeOrRootFileIsRefusedByName() throws {
        for (query, problem) in [("sslmode=always", "use one of disable, prefer, require, verify-ca, verify-full"),
                                 ("sslmode=verify-full&sslrootcert=/nonexistent/root.crt", "sslrootcert=/nonexistent/root.crt, which cannot be read")] {
            let error = #expect(throws: EngineError.self) { try PostgresLocation(url: try url(query)) }
            #expect(error?.message.contains(problem) == true, "\(query): \(error?.message ?? "")")
        }
        let folder = try TemporaryDirectory()
        let notPEM = folder.url.appendingPathComponent("root.crt")
        try Data("not a certificate".utf8).write(to: notPEM)
        let error = #expect(throws: EngineError.self) { try PostgresLocation(url: try url("sslmode=verify-ca&sslrootcert=\(notPEM.path)")) }
        #expect(error?.message.contains("holds no PEM certificate") == true, "\(error?.message ?? "")")
    }

    @Test func aJobRunsOverAVerifiedConnection() async throws {
        guard let certificate = try serverCertificate() else { return }
        let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let engine = try Engine(postgres: try url("sslmode=verify-full&sslrootcert=\(certificate)&search_path=\(schema)", host: "localhost"),
                                logger: quietLogger)
        let folder = try TemporaryDirectory()
        let job = try await engine.submit(makeSpec(items: ["q1", "q2"], sink: "postgres"), baseDirectory: folder.url).job
        #expect(try await engine.run(jobID: job.id).allSucceeded)
        try TestPostgres.expectSinkHoldsEachOnce(engine, items: ["q1", "q2"], documents: 200)
        await engine.shutdown()
    }
}
