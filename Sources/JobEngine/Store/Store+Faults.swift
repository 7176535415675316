import Foundation

/// Injected faults (`faults` in a spec) count their firings in the store, so a fault fires `times`
/// times across attempts and processes. The decision to inject lives with the runner.
extension Store {
    /// Counts one firing of an injected fault and says whether it fires: true while it has fired
    /// fewer than `times` times, across attempts and processes (the counter lives in the store).
    package func fireFault(jobID: UUID, itemName: String, phase: Phase, atDocument: Int, times: Int) throws -> Bool {
        try writer.write { db in
            let rows = try db.execute("""
                INSERT INTO fault_firings (job_id, item_name, phase, at_document, fired) VALUES (?, ?, ?, ?, 1)
                ON CONFLICT (job_id, item_name, phase, at_document) DO UPDATE SET fired = fired + 1 WHERE fired < ?
                RETURNING fired
                """, [.text(jobID.uuidString.lowercased()), .text(itemName), .text(phase.rawValue),
                      .integer(Int64(atDocument)), .integer(Int64(times))])
            return !rows.isEmpty
        }
    }
}
