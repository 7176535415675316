-- JobEngine store, version 4: what lets a new store use 4 KiB pages, and transitions touch fewer of them.
-- In a WITHOUT ROWID table a row larger than about a quarter of a page spills into an overflow
-- page (each 1 KiB document took a 4 KiB page of its own), which is why stores had 16 KiB pages;
-- but every write transaction then writes each page it touches, 16 KiB at a time, to the WAL:
-- an item's claim and finish touch about ten pages (its row, two indexes, its job's counters,
-- the events). A rowid table keeps rows of up to about 4 KB inline at 4 KiB pages.
CREATE TABLE staged_documents_v4 (
    item_id  TEXT NOT NULL REFERENCES work_items(id),
    seq      INTEGER NOT NULL,
    key      TEXT NOT NULL,
    body     BLOB NOT NULL
);
INSERT INTO staged_documents_v4 (item_id, seq, key, body)
    SELECT item_id, seq, key, body FROM staged_documents ORDER BY item_id, seq;
DROP TABLE staged_documents;
ALTER TABLE staged_documents_v4 RENAME TO staged_documents;
CREATE UNIQUE INDEX staged_documents_by_item ON staged_documents (item_id, seq);

-- Running items by owner, for the heartbeat, the sweep and the dead-owner probe: only running
-- items are in it, so a claim adds one entry and a finish removes it, where the index of every
-- item by status moved an entry between two places of a large index (two pages per transition).
DROP INDEX work_items_by_status;
CREATE INDEX work_items_running ON work_items (lease_owner, lease_expires_at) WHERE status = 'running';
