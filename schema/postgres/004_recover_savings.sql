-- JobEngine PostgreSQL store, version 4: what recovers saved, and failed items by kind found
-- without walking the others (as SQLite's schema/008).
--
-- Documents an item's runs did not collect again because they resumed from its checkpoints: each
-- claim adds the documents the item had already staged. Over the item's whole life, like
-- collected_total; a restart adds nothing, as it keeps nothing.
ALTER TABLE work_items ADD COLUMN not_collected_again BIGINT NOT NULL DEFAULT 0;

-- A job's failed items of one error kind in spec order, for the Jobs page narrowed to a kind and a
-- retry by kind. Only failed items are in it: claims and finishes never touch it.
CREATE INDEX work_items_failed_by_job_kind ON work_items (job_id, error_kind, position) WHERE status = 'failed';
