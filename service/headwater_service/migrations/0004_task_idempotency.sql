-- Schema version 4: idempotent task creation. A client may send an ``Idempotency-Key``
-- header with POST .../task; the key is stored with the task, and the same key again (a
-- retry whose first answer was lost, e.g. the service died after committing) returns that
-- task instead of allocating a second one. Tasks created without a key have none (no index
-- entry for them), so the metaflow client's requests are unaffected.

ALTER TABLE tasks ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX tasks_by_idempotency_key ON tasks (flow_id, run_number, step_name,
                                                       idempotency_key)
    WHERE idempotency_key IS NOT NULL;
