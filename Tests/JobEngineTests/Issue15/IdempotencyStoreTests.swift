import Foundation
import JobEngineTestSupport
import Testing

@testable import JobEngine
@testable import JobEnginePostgres

/// Issue 15: the records behind the retry call's Idempotency-Key, on every store: one first call
/// per key, its answer replayed, only its owner answers or forgets it, an abandoned call is taken
/// over, a touched one is not, and a day-old key is as new.
@Suite(.limit(minutes: 1)) struct IdempotencyStoreTests {
    typealias StoreKind = StoreConformanceTests.StoreKind

    /// Moves the key's times `seconds` into the past, as if that much time had passed.
    static func age(_ store: any JobStore, key: String, seconds: Double) throws {
        let sql = "UPDATE idempotency_keys SET created_at = created_at - \(seconds), touched_at = touched_at - \(seconds) WHERE key = "
        if let sqlite = store as? Store {
            _ = try sqlite.writer.write { db in try db.execute(sql + "?", [.text(key)]) }
        } else if let postgres = store as? PostgresStore {
            _ = try postgres.sessions.transaction { db in try db.execute(sql + "$1", [.text(key)]) }
        }
    }

    @Test(arguments: StoreKind.available)
    func oneFirstCallPerKeyAndItsAnswerReplayed(kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let store = try kind.open(folder)
        defer { store.close() }
        #expect(try await store.beginIdempotentCall(key: "k", digest: "d1", owner: "o1") == .first)
        #expect(try await store.beginIdempotentCall(key: "k", digest: "d1", owner: "o2") == .inProgress)
        #expect(try await store.beginIdempotentCall(key: "k", digest: "d2", owner: "o2") == .mismatch)
        // Only the owner answers: a late call that lost the key cannot overwrite it.
        try await store.finishIdempotentCall(key: "k", owner: "o2", status: 200, answer: #"{"total": 9}"#)
        #expect(try await store.beginIdempotentCall(key: "k", digest: "d1", owner: "o3") == .inProgress)
        try await store.finishIdempotentCall(key: "k", owner: "o1", status: 200, answer: #"{"total": 1}"#)
        #expect(try await store.beginIdempotentCall(key: "k", digest: "d1", owner: "o3") == .replay(status: 200, answer: #"{"total": 1}"#))
        // Answered keys cannot be forgotten by anyone, nor answered again.
        try await store.abandonIdempotentCall(key: "k", owner: "o1")
        try await store.finishIdempotentCall(key: "k", owner: "o1", status: 500, answer: "{}")
        #expect(try await store.beginIdempotentCall(key: "k", digest: "d1", owner: "o4") == .replay(status: 200, answer: #"{"total": 1}"#))
        // A day later the key is new again, whatever call it names.
        try Self.age(store, key: "k", seconds: IdempotentCall.keptSeconds + 1)
        #expect(try await store.beginIdempotentCall(key: "k", digest: "d2", owner: "o5") == .first)
    }

    @Test(arguments: StoreKind.available)
    func anAbandonedCallIsTakenOverAndATouchedOneIsNot(kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let store = try kind.open(folder)
        defer { store.close() }
        #expect(try await store.beginIdempotentCall(key: "k", digest: "d", owner: "o1") == .first)
        // Running long but touched: still in progress.
        try Self.age(store, key: "k", seconds: IdempotentCall.abandonedAfterSeconds + 5)
        try await store.touchIdempotentCall(key: "k", owner: "o1")
        #expect(try await store.beginIdempotentCall(key: "k", digest: "d", owner: "o2") == .inProgress)
        // Untouched for ten minutes: its server died; the same call runs, under a new owner.
        try Self.age(store, key: "k", seconds: IdempotentCall.abandonedAfterSeconds + 5)
        #expect(try await store.beginIdempotentCall(key: "k", digest: "d", owner: "o2") == .first)
        // The first call's late answer does not replace the new owner's.
        try await store.finishIdempotentCall(key: "k", owner: "o1", status: 200, answer: "late")
        try await store.abandonIdempotentCall(key: "k", owner: "o1")
        try await store.finishIdempotentCall(key: "k", owner: "o2", status: 200, answer: "new")
        #expect(try await store.beginIdempotentCall(key: "k", digest: "d", owner: "o3") == .replay(status: 200, answer: "new"))
        // A call that changed nothing is forgotten by its owner, and runs again when sent again.
        #expect(try await store.beginIdempotentCall(key: "other", digest: "d", owner: "o4") == .first)
        try await store.abandonIdempotentCall(key: "other", owner: "o4")
        #expect(try await store.beginIdempotentCall(key: "other", digest: "d", owner: "o5") == .first)
    }
}
