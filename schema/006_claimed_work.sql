-- Schema version 6: work done outside the engine (a vendor's snapshot, say) and the item it belongs
-- to. A collector that finds such work after a crash (it was paid for, but its id never reached a
-- checkpoint) claims it before adopting it, so two items whose inputs look alike never adopt the
-- same work, and a restart's lookup never adopts an earlier attempt's. `token` names the attempt
-- chain that claimed it (a trigger intent): the same item with the same token may claim it again.
CREATE TABLE claimed_work (
    resource TEXT PRIMARY KEY,
    item_id TEXT NOT NULL,
    token TEXT NOT NULL,
    claimed_at REAL NOT NULL
) WITHOUT ROWID;
