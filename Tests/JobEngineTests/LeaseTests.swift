import Foundation
import Testing

@testable import JobEngine

/// Leases: renewed by heartbeat while the item runs; judged by expiry for workers on other hosts.
@Suite struct LeaseTests {
    @Test func theHeartbeatRenewsTheLeaseOfARunningItem() async throws {
        let folder = try TemporaryDirectory()
        let gate = Gate()
        let (engine, _, handle) = try await startStalled(in: folder, at: gate, leaseSeconds: 0.3)
        let first = try #require(try query(folder.storePath, "SELECT lease_expires_at AS e FROM work_items").first?.double("e"))
        // Well past the first lease: only a heartbeat keeps it in the future.
        try await Task.sleep(for: .milliseconds(700))
        let later = try #require(try query(folder.storePath, "SELECT lease_expires_at AS e FROM work_items").first?.double("e"))
        #expect(later > first)
        #expect(later > Date().timeIntervalSince1970)
        gate.open()
        #expect(try await handle.wait().allSucceeded)
        engine.close()
    }

    @Test func aWorkerOnAnotherHostIsJudgedByItsLeaseExpiry() async throws {
        let folder = try TemporaryDirectory()
        let engine = try Engine(storePath: folder.storePath, logger: quietLogger)
        let job = try await engine.submit(makeSpec(items: ["expired", "live"]), baseDirectory: folder.url).job
        engine.close()
        // Two items claimed by workers on another host: one lease ran out a minute ago, one runs for an hour.
        let now = Date().timeIntervalSince1970
        try query(folder.storePath, """
            UPDATE work_items SET status = 'running', lease_owner = 'elsewhere:1:aaaa', lease_expires_at = ? WHERE name = 'expired'
            """, [.real(now - 60)])
        try query(folder.storePath, """
            UPDATE work_items SET status = 'running', lease_owner = 'elsewhere:2:bbbb', lease_expires_at = ? WHERE name = 'live'
            """, [.real(now + 3600)])

        let next = try Engine(storePath: folder.storePath, logger: quietLogger)
        let items = try await next.items(jobID: job.id)
        #expect(items.map(\.status) == [.failed, .running])
        #expect(items[0].errorKind == .interrupted)
        #expect(items[1].leaseOwner == "elsewhere:2:bbbb")
        next.close()
    }

    @Test func lockFilesOfDeadEnginesAreClearedAndLiveOnesKept() async throws {
        let folder = try TemporaryDirectory()
        let live = try Engine(storePath: folder.storePath, logger: quietLogger)
        let owners = URL(fileURLWithPath: folder.storePath + ".owners")
        // What a process killed while idle leaves: a lock file nobody holds.
        try Data().write(to: owners.appendingPathComponent("gone_1_deadbeef.lock"))
        let next = try Engine(storePath: folder.storePath, logger: quietLogger)
        let files = try FileManager.default.contentsOfDirectory(atPath: owners.path).sorted()
        #expect(files.count == 2)  // the two live engines' locks
        #expect(!files.contains("gone_1_deadbeef.lock"))
        // The live engines are still seen as alive.
        #expect(OwnerLock.probe(owner: live.owner, directory: owners) == .alive)
        next.close()
        live.close()
        #expect(try FileManager.default.contentsOfDirectory(atPath: owners.path).isEmpty)
    }
}
