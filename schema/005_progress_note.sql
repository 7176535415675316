-- Schema version 5: what a collector says about where its item stands, shown with the item's
-- progress ("collecting: snapshot s_… running, 3 min" while a vendor builds a snapshot). Written
-- with each page's checkpoint (NULL when the page says nothing) and cleared when the item stops.
ALTER TABLE work_items ADD COLUMN progress_note TEXT;
