import Foundation
import Hummingbird
import HummingbirdTesting
import JobEngine
import Testing

@testable import JobEngineHTTP

/// `schema/openapi.yaml` against the live routes: the same operations, and each documented
/// operation answers a valid request with a documented 200.
@Suite("schema/openapi.yaml matches the live routes")
struct OpenAPITests {
    /// Each operation as `METHOD /path` with its documented response codes.
    static func documentedOperations() throws -> [String: Set<String>] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("schema/openapi.yaml")
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        var operations: [String: Set<String>] = [:]
        var inPaths = false
        var path: String?
        var operation: String?
        var inResponses = false
        let methods: Set<String> = ["get", "put", "post", "patch", "delete", "head", "options"]
        for line in lines {
            let indent = line.prefix { $0 == " " }.count
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty || text.hasPrefix("#") { continue }
            if indent == 0 {
                inPaths = text == "paths:"
                continue
            }
            guard inPaths else { continue }
            if indent == 2, text.hasSuffix(":") {
                path = String(text.dropLast())
                operation = nil
            } else if indent == 4, text.hasSuffix(":"), methods.contains(String(text.dropLast())), let path {
                operation = "\(text.dropLast().uppercased()) \(path)"
                operations[operation!] = []
                inResponses = false
            } else if indent == 6 {
                inResponses = text == "responses:"
            } else if indent == 8, inResponses, let operation, text.hasPrefix("'") {
                operations[operation]?.insert(String(text.dropFirst().prefix(3)))
            }
        }
        return operations
    }

    @Test("every route the application serves is documented, and every documented operation is served")
    func sameOperations() async throws {
        let fixture = try await Fixture()
        let router = buildRouter(engine: fixture.engine, worker: nil, configuration: APIConfiguration(apiKey: apiKey))
        // What the router itself serves: no hand-kept list to fall out of date.
        let served = Set(router.routes.map { "\($0.method.rawValue) \($0.path)" })
        let documented = try Self.documentedOperations()
        #expect(documented.count >= 13)
        #expect(served == Set(documented.keys),
                "served but undocumented: \(served.subtracting(documented.keys).sorted()); documented but not served: \(Set(documented.keys).subtracting(served).sorted())")
        for (operation, codes) in documented {
            #expect(codes.contains("200"), "\(operation) documents no 200")
        }
    }

    @Test("a valid request to each documented operation gets its documented 200")
    func everyOperationAnswers() async throws {
        let fixture = try await Fixture()
        let failed = try #require(try await fixture.items(.failed).first)
        let documented = try Self.documentedOperations()
        try await fixture.app(withWorker: false).test(.router) { client in
            // Cancelling last: it changes the job the others read.
            for (operation, codes) in documented.sorted(by: { ($0.key.hasPrefix("PATCH") ? "1" : "0") + $0.key < ($1.key.hasPrefix("PATCH") ? "1" : "0") + $1.key }) {
                let parts = operation.split(separator: " ", maxSplits: 1)
                let method = try #require(HTTPRequest.Method(String(parts[0])))
                var uri = String(parts[1])
                let id = uri.hasPrefix("/api/pipelines/work-items/") ? failed.id : fixture.jobID
                uri = uri.replacingOccurrences(of: "{id}", with: id.uuidString.lowercased())
                var json: String?
                if uri.hasSuffix("/retry") {
                    uri += "?type=recover&dry_run=true"
                    json = retryBody([failed.id])
                }
                let response = try await client.call(method, uri, json: json)
                #expect(response.status == .ok, "\(operation): \(response.status) \(response.text.prefix(200))")
                #expect(codes.contains(String(response.status.code)))
            }
        }
    }
}
