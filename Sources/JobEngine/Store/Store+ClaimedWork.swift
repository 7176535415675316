import Foundation

extension Store {
    /// Records that the outside work `resource` belongs to the item (under `token`, its attempt
    /// chain); true when it does: claimed now, or claimed before by the same item with the same
    /// token. False when another item, or another attempt chain of this item, claimed it first.
    ///
    /// - Throws: `LeaseLost` when the item is no longer this worker's (nothing is recorded).
    package func claimWork(_ resource: String, token: String, itemID: String, owner: String) throws -> Bool {
        try writer.write { db in
            try db.execute("""
                INSERT INTO claimed_work (resource, item_id, token, claimed_at)
                SELECT ?, id, ?, ? FROM work_items WHERE id = ? AND status = 'running' AND lease_owner = ?
                ON CONFLICT (resource) DO NOTHING
                """, [.text(resource), .text(token), .real(Self.now), .text(itemID), .text(owner)])
            if db.changes == 1 { return true }
            guard try db.execute("SELECT 1 FROM work_items WHERE id = ? AND status = 'running' AND lease_owner = ?",
                                 [.text(itemID), .text(owner)]).first != nil else { throw LeaseLost(itemID: itemID) }
            let holder = try db.execute("SELECT item_id, token FROM claimed_work WHERE resource = ?", [.text(resource)]).first
            return holder?.string("item_id") == itemID && holder?.string("token") == token
        }
    }
}
