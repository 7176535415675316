import Foundation
import Testing

/// Issue 10, findings 6–9: a live `engine-run serve` against clients that send too slowly, frame
/// badly, go away mid-request, or probe with TRACE and HEAD.
@Suite(.serialized) struct HTTPHardeningTests {
    /// Runs a raw-socket client script (python3) against the server; returns what it printed.
    static func client(_ script: String, port: Int) async throws -> String {
        let result = try await system(["python3", "-c", "PORT = \(port)\n" + script])
        #expect(result.code == 0, "\(result.output)")
        return result.output
    }

    static let helpers = """
        import socket, time
        def send(data, wait=10):
            s = socket.create_connection(("127.0.0.1", PORT))
            s.sendall(data)
            s.settimeout(wait)
            started = time.time()
            try:
                answer = s.recv(4096)
            except socket.timeout:
                return ("open", time.time() - started, b"")
            return ("closed" if not answer else "answered", time.time() - started, answer)
        """

    @Test func finding6_slowHeadersAndPartialBodiesAreDisconnectedAtTheirDeadlines() async throws {
        let folder = try Folder()
        let server = try await ServeTests.Server(in: folder, arguments: ["--header-timeout", "1", "--body-timeout", "1", "--idle-timeout", "2"])
        let output = try await Self.client(Self.helpers + """

            print("header", *send(b"GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n")[:2])
            print("body", *send(b"PUT /api/pipelines/work-items/retry?type=recover HTTP/1.1\\r\\nHost: x\\r\\napikey: \(server.key)\\r\\nContent-Type: application/json\\r\\nContent-Length: 100\\r\\n\\r\\n{\\"wo")[:2])
            s = socket.create_connection(("127.0.0.1", PORT))
            s.sendall(b"GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
            answer = b""
            while not answer.endswith(b"}"): answer += s.recv(4096)  # the whole response, body included
            s.settimeout(10); started = time.time()
            print("idle", "closed" if s.recv(4096) == b"" else "answered", time.time() - started)
            """, port: server.port)
        for (name, limit) in [("header", 1.0), ("body", 1.0), ("idle", 2.0)] {
            let line = try #require(output.split(separator: "\n").first { $0.hasPrefix(name + " ") }, "\(output)")
            let fields = line.split(separator: " ")
            #expect(fields[1] == "closed", "\(line)")
            let seconds = try #require(Double(fields[2]))
            #expect(seconds >= limit * 0.8 && seconds < limit + 5, "\(line)")
        }
        // Slow clients are not server errors.
        #expect(!(try server.curl("GET", "/metrics", key: .some(nil)).body.contains("status=\"500\"")))
    }

    @Test func finding6_connectionsBeyondTheCapWaitUntilOneCloses() async throws {
        let folder = try Folder()
        let server = try await ServeTests.Server(in: folder, arguments: ["--max-connections", "2", "--header-timeout", "30"])
        let output = try await Self.client("""
            import socket, time
            held = [socket.create_connection(("127.0.0.1", PORT)) for _ in range(2)]
            time.sleep(0.5)
            third = socket.create_connection(("127.0.0.1", PORT))
            third.sendall(b"GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
            third.settimeout(1.5)
            try:
                third.recv(4096); print("third served while two held")
            except socket.timeout:
                print("third waited")
            held[0].close()
            third.settimeout(10)
            print("third", "served" if third.recv(4096).startswith(b"HTTP/1.1 200") else "refused")
            """, port: server.port)
        #expect(output.contains("third waited"), "\(output)")
        #expect(output.contains("third served") && !output.contains("while two held"), "\(output)")
    }

    @Test func finding7_badChunkFramingIs400AndAClientThatLeftIsNotAServerError() async throws {
        let folder = try Folder()
        let server = try await ServeTests.Server(in: folder)
        let output = try await Self.client(Self.helpers + """

            state, seconds, answer = send(b"PUT /api/pipelines/work-items/retry?type=recover HTTP/1.1\\r\\nHost: x\\r\\napikey: \(server.key)\\r\\nContent-Type: application/json\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\nZZZ\\r\\nabc\\r\\n0\\r\\n\\r\\n")
            print("chunked", answer.split(b"\\r\\n")[0].decode())
            for _ in range(5):
                s = socket.create_connection(("127.0.0.1", PORT))
                s.sendall(b"PUT /api/pipelines/work-items/retry?type=recover HTTP/1.1\\r\\nHost: x\\r\\napikey: \(server.key)\\r\\nContent-Type: application/json\\r\\nContent-Length: 100\\r\\n\\r\\n{\\"wo")
                s.close()
            time.sleep(0.5)
            """, port: server.port)
        #expect(output.contains("chunked HTTP/1.1 400"), "\(output)")
        let metrics = try server.curl("GET", "/metrics", key: .some(nil)).body
        #expect(!metrics.contains("status=\"500\""), "\(metrics.split(separator: "\n").filter { $0.contains("status=") })")
        #expect(metrics.contains("method=\"PUT\",status=\"499\""))
        server.running.kill(SIGTERM)
        _ = await server.running.wait(seconds: 10)
        #expect(!server.running.output().stderr.contains("request failed"), "\(server.running.output().stderr)")
    }

    @Test func finding8and9_TRACEIs405AndHEADOfHealthzAnswersLikeGET() async throws {
        let folder = try Folder()
        let server = try await ServeTests.Server(in: folder)
        for path in ["/healthz", "/metrics", "/api/pipelines/jobs", "/"] {
            #expect(try server.curl("TRACE", path).status == 405, "TRACE \(path)")
            #expect(try server.curl("QUERY", path).status == 405, "QUERY \(path)")
        }
        let head = try await system(["curl", "-s", "-I", "http://127.0.0.1:\(server.port)/healthz"])
        #expect(head.output.hasPrefix("HTTP/1.1 200"), "\(head.output)")
        // dry_run= (empty) is refused like cursor= (empty); a cursor of the documented form is accepted.
        let job = "00000000-0000-0000-0000-000000000000"
        #expect(try server.curl("PUT", "/api/pipelines/work-items/retry?type=recover&dry_run=", json: #"{"work_item_ids": ["\#(job)"]}"#).status == 400)
        #expect(try server.curl("GET", "/api/pipelines/jobs/\(job)/work-items?cursor=").status == 400)
    }
}
