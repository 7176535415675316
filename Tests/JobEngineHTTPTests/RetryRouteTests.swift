import Foundation
import Hummingbird
import HummingbirdTesting
import JobEngine
import Testing

@testable import JobEngineHTTP

@Suite("PUT /api/pipelines/work-items/retry")
struct RetryRouteTests {
    @Test("recover: the failed item runs again in the server's worker, succeeds, and nothing is collected again")
    func recoverRunsTheItemAgain() async throws {
        let fixture = try await Fixture()
        let failed = try #require(try await fixture.items(.failed).first)
        #expect(failed.phase == .ingest && failed.collectedTotal == fixture.documents)

        try await fixture.app().test(.router) { client in
            let response = try await client.call(.put, "/api/pipelines/work-items/retry?type=recover", json: retryBody([failed.id]))
            #expect(response.status == .ok)
            #expect(try response.object["total"] as? Int == 1)
            #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)

            let item = try await fixture.waitForItem(failed.id) { $0.status == .succeeded }
            #expect(item.status == .succeeded)
            #expect(item.collectedTotal == fixture.documents, "recover after an ingest failure must collect nothing again")
            #expect(item.ingested == fixture.documents)
            #expect(item.retryMode == .recover)

            let detail = try await client.call(.get, "/api/pipelines/work-items/\(failed.id.uuidString.lowercased())")
            #expect(try detail.object["collected_total"] as? Int == fixture.documents)
            let events = try #require(try detail.object["events"] as? [[String: Any]])
            #expect(events.contains { $0["mode"] as? String == "recover" && $0["to"] as? String == "pending" })
        }
        let lines = try String(contentsOf: fixture.folder.appendingPathComponent("out/\(failed.name).jsonl"), encoding: .utf8)
            .split(separator: "\n")
        #expect(lines.count == fixture.documents, "the sink holds every document exactly once")
    }

    @Test("restart: the item runs from the beginning and collects everything again")
    func restartRunsFromTheBeginning() async throws {
        let fixture = try await Fixture()
        let failed = try #require(try await fixture.items(.failed).first)
        try await fixture.app().test(.router) { client in
            let response = try await client.call(.put, "/api/pipelines/work-items/retry?type=restart", json: retryBody([failed.id]))
            #expect(response.status == .ok)
            #expect(try response.object["total"] as? Int == 1)
            let item = try await fixture.waitForItem(failed.id) { $0.status == .succeeded }
            #expect(item.status == .succeeded)
            #expect(item.collectedTotal == 2 * fixture.documents)
            #expect(item.retryMode == .restart)
        }
    }

    @Test("dry_run=true answers what would start and changes nothing")
    func dryRunChangesNothing() async throws {
        let fixture = try await Fixture()
        let failed = try #require(try await fixture.items(.failed).first)
        let succeeded = try #require(try await fixture.items(.succeeded).first)
        let eventsBefore = try await fixture.engine.history(itemID: failed.id).count
        try await fixture.app().test(.router) { client in
            let response = try await client.call(.put, "/api/pipelines/work-items/retry?type=recover&dry_run=true",
                                                 json: retryBody([failed.id, succeeded.id]))
            #expect(response.status == .ok)
            let object = try response.object
            #expect(object["total"] as? Int == 1)
            #expect(object["dry_run"] as? Bool == true)
            let skipped = try #require(object["skipped"] as? [[String: Any]])
            #expect(skipped.count == 1 && skipped.first?["id"] as? String == succeeded.id.uuidString.lowercased())
        }
        #expect(try await fixture.engine.item(failed.id)?.status == .failed)
        #expect(try await fixture.engine.history(itemID: failed.id).count == eventsBefore)
    }

    @Test("ineligible and unknown ids are skipped with reasons; total counts only started retries")
    func skippedItemsHaveReasons() async throws {
        let fixture = try await Fixture()
        let failed = try #require(try await fixture.items(.failed).first)
        let succeeded = try #require(try await fixture.items(.succeeded).first)
        let unknown = UUID()
        try await fixture.app(withWorker: false).test(.router) { client in
            let response = try await client.call(.put, "/api/pipelines/work-items/retry?type=restart",
                                                 json: retryBody([failed.id, succeeded.id, unknown, failed.id]))
            #expect(response.status == .ok)
            let object = try response.object
            #expect(object["total"] as? Int == 1)
            let skipped = try #require(object["skipped"] as? [[String: Any]])
            let reasons = Dictionary(skipped.map { ($0["id"] as? String ?? "", $0["code"] as? String ?? "") }) { first, _ in first }
            #expect(reasons[succeeded.id.uuidString.lowercased()] == "not_retryable")
            #expect(reasons[unknown.uuidString.lowercased()] == "unknown")
            #expect(skipped.allSatisfy { ($0["reason"] as? String)?.isEmpty == false })
        }
    }

    @Test("50 concurrent PUTs retrying the same failed items: the totals add up to the items, each runs once")
    func concurrentRetriesStartEachItemOnce() async throws {
        let fixture = try await Fixture(items: 10, failing: Set(0..<10), documents: 40)
        let failed = try await fixture.items(.failed)
        #expect(failed.count == 10)
        let ids = failed.map(\.id)
        try await fixture.app().test(.live) { client in
            let totals = try await withThrowingTaskGroup(of: Int.self) { group in
                for round in 0..<50 {
                    // Each request lists the same items in its own order.
                    let order = ids.shuffled() + (round.isMultiple(of: 2) ? [] : [ids[round % ids.count]])
                    group.addTask {
                        let response = try await client.call(.put, "/api/pipelines/work-items/retry?type=recover",
                                                             json: retryBody(order))
                        #expect(response.status == .ok)
                        return try response.object["total"] as? Int ?? -1
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(totals.reduce(0, +) == ids.count, "totals \(totals)")
            for id in ids {
                let item = await (try? fixture.waitForItem(id) { $0.status == .succeeded })
                #expect(item?.status == .succeeded)
            }
        }
        for id in ids {
            let history = try await fixture.engine.history(itemID: id)
            // Created → pending → running → failed, then exactly one retry and one run.
            #expect(history.filter { $0.mode != nil && $0.to == .pending }.count == 1)
            #expect(history.filter { $0.to == .running }.count == 2)
            #expect(try await fixture.engine.item(id)?.attempt == 2)
        }
    }
}
