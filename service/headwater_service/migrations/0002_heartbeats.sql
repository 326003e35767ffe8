-- Schema version 2: liveness. Runs and tasks record the last heartbeat (seconds since the
-- epoch) that the scheduler and running tasks send every few seconds, so a reader can
-- tell a running run from one whose scheduler died.

ALTER TABLE runs ADD COLUMN last_heartbeat_ts BIGINT;
ALTER TABLE tasks ADD COLUMN last_heartbeat_ts BIGINT;
