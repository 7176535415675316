-- Schema version 8: what recovers saved; failed items by kind and events by status found without walking the others.
--
-- Documents an item's runs did not collect again because they resumed from its checkpoints (a
-- recover, manual or automatic, or a run continued after its worker died): each claim adds the
-- documents the item had already staged. Over the item's whole life, like collected_total (what was
-- collected); a restart adds nothing, as it keeps nothing.
ALTER TABLE work_items ADD COLUMN not_collected_again INTEGER NOT NULL DEFAULT 0;

-- A job's failed items of one error kind in spec order: the Jobs page narrowed to a kind and a
-- retry by kind walk only those (at 1,000,000 items a rare kind among many failures was a walk of
-- every failed item). Only failed items are in it, so the hot path (claims, finishes) never touches it.
CREATE INDEX work_items_failed_by_job_kind ON work_items (job_id, error_kind, position) WHERE status = 'failed';

-- A job's events by status and time, with their error kind, for its activity (failures per minute
-- by kind, items finished in the last ten minutes): each count reads only this index, and only the
-- entries of its status. By time alone, a job of 1,000,000 items submitted within the hour had every
-- creation event walked at each look.
DROP INDEX events_by_job_time;
CREATE INDEX events_by_job_status_time ON events (job_id, to_status, at, error_kind);
