-- JobEngine store, version 4: smaller pages, transitions that touch fewer of them, a new job's items written once.
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

-- A new job's submit writes its items in place (the job is invisible until the submit ends), then
-- their creation events a step at a time: the position the events have reached.
ALTER TABLE jobs ADD COLUMN submit_applied INTEGER;

-- CHECK constraints as OR chains instead of IN lists. SQLite builds an IN list of more than two
-- values into a temporary index each time a statement checks it: three of them on every insert and
-- update of an item, most of an insert's cost (200,000 inserts: 1.75 s with IN lists, 0.31 s with
-- OR chains). The rule each one states is the same. Changing a CHECK constraint does not touch the
-- stored rows, so the table definitions are edited in place, as sqlite.org/lang_altertable.html
-- ("making other kinds of table schema changes") allows for constraints; RESET reloads them.
PRAGMA writable_schema = ON;
UPDATE sqlite_master SET sql = replace(sql, 'CHECK (status IN (''pending'', ''running'', ''succeeded'', ''failed'', ''cancelled''))',
    'CHECK (status = ''pending'' OR status = ''running'' OR status = ''succeeded'' OR status = ''failed'' OR status = ''cancelled'')')
    WHERE type = 'table' AND name = 'work_items';
UPDATE sqlite_master SET sql = replace(sql, 'CHECK (phase IN (''collect'', ''ingest'', ''done''))',
    'CHECK (phase = ''collect'' OR phase = ''ingest'' OR phase = ''done'')')
    WHERE type = 'table' AND name = 'work_items';
UPDATE sqlite_master SET sql = replace(sql, 'CHECK (retry_mode IN (''restart'', ''recover''))',
    'CHECK (retry_mode = ''restart'' OR retry_mode = ''recover'')')
    WHERE type = 'table' AND name = 'work_items';
UPDATE sqlite_master SET sql = replace(sql, 'CHECK (error_kind IN (''transient'', ''permanent'', ''interrupted''))',
    'CHECK (error_kind = ''transient'' OR error_kind = ''permanent'' OR error_kind = ''interrupted'')')
    WHERE type = 'table' AND name = 'work_items';
UPDATE sqlite_master SET sql = replace(sql, 'CHECK (phase IN (''collect'', ''ingest''))',
    'CHECK (phase = ''collect'' OR phase = ''ingest'')')
    WHERE type = 'table' AND name = 'checkpoints';
UPDATE sqlite_master SET sql = replace(sql, 'CHECK (submit_state IN (''staging'', ''applying'', ''ready''))',
    'CHECK (submit_state = ''staging'' OR submit_state = ''applying'' OR submit_state = ''ready'')')
    WHERE type = 'table' AND name = 'jobs';
PRAGMA writable_schema = RESET;

-- A new job's submit counts its items once per step instead of once per row: the insert trigger
-- was about 40 % of an item insert (100,000 inserts with and without it). `counted` says whether
-- the trigger counted the row's insert (1, every other insert) or the submit step that wrote it (0).
ALTER TABLE work_items ADD COLUMN counted INTEGER NOT NULL DEFAULT 1;
DROP TRIGGER work_items_counted_insert;
CREATE TRIGGER work_items_counted_insert AFTER INSERT ON work_items WHEN new.counted
BEGIN
    UPDATE jobs SET
        pending_items = pending_items + (new.status = 'pending'),
        running_items = running_items + (new.status = 'running'),
        succeeded_items = succeeded_items + (new.status = 'succeeded'),
        failed_items = failed_items + (new.status = 'failed'),
        cancelled_items = cancelled_items + (new.status = 'cancelled'),
        collected = collected + new.collected,
        ingested = ingested + new.ingested,
        collected_total = collected_total + new.collected_total
    WHERE id = new.job_id;
END;
