import Foundation
import JobEngine

/// A `brightdata` item's checkpointed position, stored as the collect cursor (JSON):
///
/// 1. the trigger *intent* (`intent_at`, `inputs_sha256`), checkpointed before the paid trigger, so
///    a crash between the trigger's answer and its checkpoint is recovered by looking the snapshot
///    up, never by triggering again;
/// 2. the snapshot id, checkpointed the moment the trigger answers (and the last status polled);
/// 3. the number of parts, then the part and the line within it of the next document.
struct SnapshotCursor: Codable, Equatable, Sendable {
    var intentAt: Double
    var inputsSHA256: String
    var snapshotID: String?
    var status: String?
    /// When the wait for the snapshot began (the trigger's answer, or the first poll of a recover).
    var waitingSince: Double?
    var parts: Int?
    var part = 1
    var line = 0

    enum CodingKeys: String, CodingKey {
        case intentAt = "intent_at", inputsSHA256 = "inputs_sha256", snapshotID = "snapshot_id", status
        case waitingSince = "waiting_since", parts, part, line
    }

    init(intentAt: Double, inputsSHA256: String) {
        self.intentAt = intentAt
        self.inputsSHA256 = inputsSHA256
    }

    /// The cursor a checkpoint holds.
    ///
    /// - Throws: a permanent `PhaseError` when it is not one (a cursor another collector type left:
    ///   the spec changed its collector; restart the item).
    init(checkpoint: String) throws {
        do {
            self = try JSONDecoder().decode(Self.self, from: Data(checkpoint.utf8))
        } catch {
            throw PhaseError.permanent("brightdata collector: the checkpointed cursor is not a snapshot position (\(checkpoint.prefix(100))); restart the item")
        }
    }

    var checkpoint: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }
}
