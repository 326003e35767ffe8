-- Schema version 1: flows, runs, steps, tasks, their metadata rows and artifact pointers.
--
-- Ids are allocated here (identity columns), so any number of service instances can
-- share the database. A client may also name a run or task with a non-numeric string
-- (run_id / task_name); the integer is still allocated and both work in URLs.
-- Timestamps (ts_epoch) are milliseconds since the epoch, taken from the database clock.

CREATE TABLE flows (
    flow_id     TEXT PRIMARY KEY,
    user_name   TEXT,
    ts_epoch    BIGINT NOT NULL DEFAULT (extract(epoch FROM now()) * 1000)::bigint,
    tags        JSONB NOT NULL DEFAULT '[]',
    system_tags JSONB NOT NULL DEFAULT '[]'
);

CREATE TABLE runs (
    flow_id     TEXT NOT NULL REFERENCES flows (flow_id),
    run_number  BIGINT GENERATED ALWAYS AS IDENTITY,
    run_id      TEXT CHECK (run_id !~ '^[0-9]+$'),
    user_name   TEXT,
    ts_epoch    BIGINT NOT NULL DEFAULT (extract(epoch FROM now()) * 1000)::bigint,
    tags        JSONB NOT NULL DEFAULT '[]',
    system_tags JSONB NOT NULL DEFAULT '[]',
    PRIMARY KEY (flow_id, run_number)
);
-- "runs of a flow, newest first"
CREATE INDEX runs_by_time ON runs (flow_id, ts_epoch DESC);
-- a client-chosen id is unique in its flow; most runs have none (no index entry for them)
CREATE UNIQUE INDEX runs_by_name ON runs (flow_id, run_id) WHERE run_id IS NOT NULL;

-- Steps, tasks and artifacts are returned with their run's tags, so they store none.
CREATE TABLE steps (
    flow_id     TEXT NOT NULL,
    run_number  BIGINT NOT NULL,
    step_name   TEXT NOT NULL,
    user_name   TEXT,
    ts_epoch    BIGINT NOT NULL DEFAULT (extract(epoch FROM now()) * 1000)::bigint,
    PRIMARY KEY (flow_id, run_number, step_name),
    FOREIGN KEY (flow_id, run_number) REFERENCES runs (flow_id, run_number)
);

CREATE TABLE tasks (
    flow_id     TEXT NOT NULL,
    run_number  BIGINT NOT NULL,
    step_name   TEXT NOT NULL,
    task_id     BIGINT GENERATED ALWAYS AS IDENTITY,
    task_name   TEXT CHECK (task_name !~ '^[0-9]+$'),
    user_name   TEXT,
    ts_epoch    BIGINT NOT NULL DEFAULT (extract(epoch FROM now()) * 1000)::bigint,
    PRIMARY KEY (flow_id, run_number, step_name, task_id),
    FOREIGN KEY (flow_id, run_number, step_name) REFERENCES steps (flow_id, run_number, step_name)
);
CREATE UNIQUE INDEX tasks_by_name ON tasks (flow_id, run_number, step_name, task_name)
    WHERE task_name IS NOT NULL;

-- Append-only: a task records attempt, attempt-done, attempt_ok, ds-root, ... rows.
CREATE TABLE metadata (
    id          BIGINT GENERATED ALWAYS AS IDENTITY,
    flow_id     TEXT NOT NULL,
    run_number  BIGINT NOT NULL,
    step_name   TEXT NOT NULL,
    task_id     BIGINT NOT NULL,
    field_name  TEXT NOT NULL,
    value       TEXT NOT NULL,
    type        TEXT NOT NULL,
    user_name   TEXT,
    ts_epoch    BIGINT NOT NULL DEFAULT (extract(epoch FROM now()) * 1000)::bigint,
    tags        JSONB NOT NULL DEFAULT '[]',
    system_tags JSONB NOT NULL DEFAULT '[]',
    -- one index for uniqueness and for reading a task's rows (or, by its prefix, a run's)
    PRIMARY KEY (flow_id, run_number, step_name, task_id, id),
    FOREIGN KEY (flow_id, run_number, step_name, task_id)
        REFERENCES tasks (flow_id, run_number, step_name, task_id)
);

-- One row per artifact per attempt: where the bytes live, never the bytes.
CREATE TABLE artifacts (
    flow_id      TEXT NOT NULL,
    run_number   BIGINT NOT NULL,
    step_name    TEXT NOT NULL,
    task_id      BIGINT NOT NULL,
    attempt_id   INTEGER NOT NULL CHECK (attempt_id >= 0),
    name         TEXT NOT NULL,
    location     TEXT NOT NULL,
    ds_type      TEXT NOT NULL,
    sha          TEXT NOT NULL,
    type         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    user_name    TEXT,
    ts_epoch     BIGINT NOT NULL DEFAULT (extract(epoch FROM now()) * 1000)::bigint,
    PRIMARY KEY (flow_id, run_number, step_name, task_id, attempt_id, name),
    FOREIGN KEY (flow_id, run_number, step_name, task_id)
        REFERENCES tasks (flow_id, run_number, step_name, task_id)
);
