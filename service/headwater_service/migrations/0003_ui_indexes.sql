-- Schema version 3: indexes for the web UI's pages (headwater_service/ui/).
--
-- The runs of a flow are paged newest first by (ts_epoch, run_number), optionally for one
-- user or with one tag; a run page asks "has anything changed?" by the run's newest
-- metadata row. Indexes only: no table or row changes.

-- keyset paging: the page after (ts_epoch, run_number) is one index range
CREATE INDEX runs_page ON runs (flow_id, ts_epoch DESC, run_number DESC);
CREATE INDEX runs_page_by_user ON runs (flow_id, user_name, ts_epoch DESC, run_number DESC);
-- "runs with tag x" (user or system tag): containment on the JSON arrays
CREATE INDEX runs_tags ON runs USING gin (tags jsonb_path_ops);
CREATE INDEX runs_system_tags ON runs USING gin (system_tags jsonb_path_ops);
-- the newest metadata row of a run: one index probe (the run page's change check)
CREATE INDEX metadata_by_run ON metadata (flow_id, run_number, id);
