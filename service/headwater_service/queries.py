"""Every SQL statement the API runs. One statement per request wherever possible.

- Postgres renders the response JSON itself (``json_build_object`` / ``json_agg``), so a
  read is one round trip and the service passes the bytes through without decoding them.
- A write is one statement (CTEs resolve the parent and insert), so with autocommit it is
  its own transaction: all rows or none, never a partial write.
- Statements that address a run or task come in variants for "by allocated number" and
  "by registered name" (``by(run, task)``), chosen from a fixed set: user input only ever
  travels as a bind parameter.

Steps, tasks and artifacts are returned with their run's tags, as metaflow-service does.
"""

from __future__ import annotations

from itertools import product

NOW_S = "extract(epoch FROM now())::bigint"

# metaflow-service's "exposed" ids: the registered name when there is one, else the number
RUN_ID = "coalesce(to_json(r.run_id), to_json(r.run_number))"
TASK_ID = "coalesce(to_json(t.task_name), to_json(t.task_id))"

FLOW_JSON = ("json_build_object('flow_id', f.flow_id, 'user_name', f.user_name, "
             "'ts_epoch', f.ts_epoch, 'tags', f.tags, 'system_tags', f.system_tags)")

RUN_JSON = (f"json_build_object('flow_id', r.flow_id, 'run_number', {RUN_ID}, "
            "'run_id', r.run_id, 'user_name', r.user_name, 'user', r.user_name, "
            "'ts_epoch', r.ts_epoch, 'tags', r.tags, 'system_tags', r.system_tags, "
            "'last_heartbeat_ts', r.last_heartbeat_ts)")

STEP_JSON = (f"json_build_object('flow_id', s.flow_id, 'run_number', {RUN_ID}, "
             "'run_id', r.run_id, 'step_name', s.step_name, 'user_name', s.user_name, "
             "'ts_epoch', s.ts_epoch, 'tags', r.tags, 'system_tags', r.system_tags)")

TASK_JSON = (f"json_build_object('flow_id', t.flow_id, 'run_number', {RUN_ID}, "
             f"'step_name', t.step_name, 'task_id', {TASK_ID}, 'task_name', t.task_name, "
             "'user_name', t.user_name, 'ts_epoch', t.ts_epoch, 'tags', r.tags, "
             "'system_tags', r.system_tags, 'last_heartbeat_ts', t.last_heartbeat_ts)")

METADATA_JSON = (f"json_build_object('id', m.id, 'flow_id', m.flow_id, 'run_number', {RUN_ID}, "
                 f"'step_name', m.step_name, 'task_id', {TASK_ID}, 'field_name', m.field_name, "
                 "'value', m.value, 'type', m.type, 'user_name', m.user_name, "
                 "'ts_epoch', m.ts_epoch, 'tags', m.tags, 'system_tags', m.system_tags)")

ARTIFACT_JSON = (f"json_build_object('flow_id', a.flow_id, 'run_number', {RUN_ID}, "
                 f"'step_name', a.step_name, 'task_id', {TASK_ID}, 'name', a.name, "
                 "'location', a.location, 'ds_type', a.ds_type, 'sha', a.sha, 'type', a.type, "
                 "'content_type', a.content_type, 'attempt_id', a.attempt_id, "
                 "'user_name', a.user_name, 'ts_epoch', a.ts_epoch, 'tags', r.tags, "
                 "'system_tags', r.system_tags)")

_RUN_BY = {True: "r.run_number = %(run)s::bigint", False: "r.run_id = %(run)s"}
_TASK_BY = {True: "t.task_id = %(task)s::bigint", False: "t.task_name = %(task)s"}

# Join conditions between the tables' natural keys.
_RUN_STEP = "s.flow_id = r.flow_id AND s.run_number = r.run_number"
_RUN_TASK = "t.flow_id = r.flow_id AND t.run_number = r.run_number"
_OF_TASK = ("{x}.flow_id = t.flow_id AND {x}.run_number = t.run_number "
            "AND {x}.step_name = t.step_name AND {x}.task_id = t.task_id")
_LATEST_ATTEMPT = ("(SELECT max(l.attempt_id) FROM artifacts l WHERE "
                   + _OF_TASK.format(x="l") + ")")

# The task addressed by a path, with its run (``r``) for tags and exposed ids.
_TASK_FROM = (f"FROM runs r JOIN tasks t ON {_RUN_TASK} WHERE r.flow_id = %(flow)s AND {{run}} "
              "AND t.step_name = %(step)s AND {task}")
_STEP_FROM = (f"FROM runs r JOIN steps s ON {_RUN_STEP} WHERE r.flow_id = %(flow)s AND {{run}} "
              "AND s.step_name = %(step)s")
_RUN_FROM = "FROM runs r WHERE r.flow_id = %(flow)s AND {run}"


class Variants:
    """A statement in its by-number / by-name variants for the run (and task) it addresses."""

    def __init__(self, template: str):
        self.template = template
        self._sql = {(run, task): template.format(run=_RUN_BY[run], task=_TASK_BY[task])
                     for run, task in product((True, False), repeat=2)}

    def by(self, run_is_number: bool, task_is_number: bool = True) -> str:
        return self._sql[(run_is_number, task_is_number)]


# --- flows ---------------------------------------------------------------------------------

FLOWS = f"SELECT coalesce(json_agg({FLOW_JSON} ORDER BY f.flow_id), '[]'::json) FROM flows f"

FLOW = f"SELECT {FLOW_JSON} FROM flows f WHERE f.flow_id = %(flow)s"

CREATE_FLOW = (f"INSERT INTO flows AS f (flow_id, user_name, tags, system_tags) "
               f"VALUES (%(flow)s, %(user)s, %(tags)s::jsonb, %(system_tags)s::jsonb) "
               f"RETURNING {FLOW_JSON}")

# --- runs ----------------------------------------------------------------------------------

RUNS = (f"SELECT (SELECT coalesce(json_agg({RUN_JSON} ORDER BY r.ts_epoch DESC, "
        f"r.run_number DESC), '[]'::json) FROM runs r WHERE r.flow_id = f.flow_id) "
        f"FROM flows f WHERE f.flow_id = %(flow)s")

RUN = Variants(f"SELECT {RUN_JSON} {_RUN_FROM}")

CREATE_RUN = (f"INSERT INTO runs AS r (flow_id, run_id, user_name, tags, system_tags, "
              f"last_heartbeat_ts) VALUES (%(flow)s, %(run_id)s, %(user)s, %(tags)s::jsonb, "
              f"%(system_tags)s::jsonb, {NOW_S}) RETURNING {RUN_JSON}")

RUN_HEARTBEAT = Variants(f"UPDATE runs r SET last_heartbeat_ts = {NOW_S} "
                         f"WHERE r.flow_id = %(flow)s AND {{run}} RETURNING 1")

# Tag mutation reads, computes and writes: one transaction holding the run's row lock.
LOCK_RUN_TAGS = Variants(f"SELECT r.run_number, r.tags {_RUN_FROM} FOR UPDATE")
SET_RUN_TAGS = ("UPDATE runs SET tags = %(tags)s::jsonb "
                "WHERE flow_id = %(flow)s AND run_number = %(number)s")

RUN_METADATA = Variants(
    f"SELECT (SELECT coalesce(json_agg({METADATA_JSON} ORDER BY m.id), '[]'::json) "
    f"FROM metadata m JOIN tasks t ON {_OF_TASK.format(x='m')} "
    f"WHERE m.flow_id = r.flow_id AND m.run_number = r.run_number) {_RUN_FROM}")

RUN_ARTIFACTS = Variants(
    f"SELECT (SELECT coalesce(json_agg({ARTIFACT_JSON} ORDER BY t.step_name, t.task_id, a.name),"
    f" '[]'::json) FROM tasks t JOIN artifacts a ON {_OF_TASK.format(x='a')} "
    f"WHERE {_RUN_TASK} AND a.attempt_id = {_LATEST_ATTEMPT}) {_RUN_FROM}")

# --- steps ---------------------------------------------------------------------------------

STEPS = Variants(
    f"SELECT (SELECT coalesce(json_agg({STEP_JSON} ORDER BY s.ts_epoch DESC, s.step_name), "
    f"'[]'::json) FROM steps s WHERE {_RUN_STEP}) {_RUN_FROM}")

STEP = Variants(f"SELECT {STEP_JSON} {_STEP_FROM}")

# No row back: the run does not exist. A unique violation: the step does.
CREATE_STEP = Variants(
    f"WITH r AS (SELECT r.* {_RUN_FROM}), "
    f"s AS (INSERT INTO steps (flow_id, run_number, step_name, user_name) "
    f"SELECT r.flow_id, r.run_number, %(step)s, %(user)s FROM r RETURNING *) "
    f"SELECT {STEP_JSON} FROM r, s")

STEP_ARTIFACTS = Variants(
    f"SELECT (SELECT coalesce(json_agg({ARTIFACT_JSON} ORDER BY t.task_id, a.name), '[]'::json) "
    f"FROM tasks t JOIN artifacts a ON {_OF_TASK.format(x='a')} "
    f"WHERE t.flow_id = s.flow_id AND t.run_number = s.run_number AND t.step_name = s.step_name "
    f"AND a.attempt_id = {_LATEST_ATTEMPT}) {_STEP_FROM}")

# Tasks with a metadata row matching field and regular expression (either may be NULL).
FILTERED_TASKS = Variants(
    "SELECT (SELECT coalesce(json_agg(r.flow_id || '/' || coalesce(r.run_id, r.run_number::text)"
    " || '/' || t.step_name || '/' || coalesce(t.task_name, t.task_id::text) "
    "ORDER BY t.task_id), '[]'::json) FROM tasks t "
    "WHERE t.flow_id = s.flow_id AND t.run_number = s.run_number AND t.step_name = s.step_name "
    "AND (%(match_all)s OR EXISTS (SELECT 1 FROM metadata m WHERE "
    + _OF_TASK.format(x="m")
    + " AND (%(field)s::text IS NULL OR m.field_name = %(field)s::text) "
    "AND (%(pattern)s::text IS NULL OR m.value ~ %(pattern)s::text)))) " + _STEP_FROM)

# --- tasks ---------------------------------------------------------------------------------

TASKS = Variants(
    f"SELECT (SELECT coalesce(json_agg({TASK_JSON} ORDER BY t.task_id DESC), '[]'::json) "
    f"FROM tasks t WHERE t.flow_id = s.flow_id AND t.run_number = s.run_number "
    f"AND t.step_name = s.step_name) {_STEP_FROM}")

TASK = Variants(f"SELECT {TASK_JSON} {_TASK_FROM}")

# No row back: the run or step does not exist, or (with a key) a concurrent request with
# the same key committed after this statement's snapshot (TASK_BY_KEY then finds it). A
# unique violation: the task name is taken. A key already stored returns its task.
_STEP_RUN = (f"SELECT r.* FROM runs r JOIN steps s ON {_RUN_STEP} "
             f"WHERE r.flow_id = %(flow)s AND {{run}} AND s.step_name = %(step)s")
_BY_KEY = ("t.flow_id = r.flow_id AND t.run_number = r.run_number AND t.step_name = %(step)s "
           "AND t.idempotency_key = %(key)s")
CREATE_TASK = Variants(
    f"WITH r AS ({_STEP_RUN}), "
    f"ins AS (INSERT INTO tasks (flow_id, run_number, step_name, task_name, user_name, "
    f"last_heartbeat_ts, idempotency_key) SELECT r.flow_id, r.run_number, %(step)s, "
    f"%(task_name)s, %(user)s, {NOW_S}, %(key)s FROM r "
    f"ON CONFLICT (flow_id, run_number, step_name, idempotency_key) "
    f"WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING *) "
    f"SELECT {TASK_JSON} FROM r, ins t "
    f"UNION ALL SELECT {TASK_JSON} FROM r JOIN tasks t ON {_BY_KEY} "
    f"WHERE NOT EXISTS (SELECT 1 FROM ins)")

TASK_BY_KEY = Variants(f"SELECT {TASK_JSON} FROM ({_STEP_RUN}) r JOIN tasks t ON {_BY_KEY}")

# A task's heartbeat also keeps its run alive.
TASK_HEARTBEAT = Variants(
    f"WITH t AS (UPDATE tasks t SET last_heartbeat_ts = {NOW_S} FROM runs r "
    f"WHERE {_RUN_TASK} AND r.flow_id = %(flow)s AND {{run}} AND t.step_name = %(step)s "
    f"AND {{task}} RETURNING t.flow_id, t.run_number) "
    f"UPDATE runs r SET last_heartbeat_ts = {NOW_S} FROM t "
    f"WHERE r.flow_id = t.flow_id AND r.run_number = t.run_number RETURNING 1")

TASK_METADATA = Variants(
    f"SELECT (SELECT coalesce(json_agg({METADATA_JSON} ORDER BY m.id), '[]'::json) "
    f"FROM metadata m WHERE {_OF_TASK.format(x='m')}) {_TASK_FROM}")

# Returns (tasks found: 0 or 1, rows inserted). The rows arrive as one JSON array.
CREATE_METADATA = Variants(
    f"WITH t AS (SELECT t.flow_id, t.run_number, t.step_name, t.task_id {_TASK_FROM}), "
    "ins AS (INSERT INTO metadata (flow_id, run_number, step_name, task_id, field_name, value, "
    "type, user_name, tags, system_tags) "
    "SELECT t.flow_id, t.run_number, t.step_name, t.task_id, x.doc->>'field_name', "
    "x.doc->>'value', x.doc->>'type', x.doc->>'user_name', "
    "coalesce(nullif(x.doc->'tags', 'null'::jsonb), '[]'::jsonb), "
    "coalesce(nullif(x.doc->'system_tags', 'null'::jsonb), '[]'::jsonb) "
    "FROM t, jsonb_array_elements(%(rows)s::jsonb) WITH ORDINALITY AS x(doc, n) "
    "ORDER BY x.n RETURNING 1) "
    "SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM ins)")

# Returns (tasks found, rows that clash with stored ones, rows inserted). Re-sending an
# identical row (a client retry) is a no-op; a different row under the same
# (attempt, name) is a conflict and nothing is written.
CREATE_ARTIFACTS = Variants(
    f"WITH t AS (SELECT t.flow_id, t.run_number, t.step_name, t.task_id {_TASK_FROM}), "
    "x AS (SELECT t.flow_id, t.run_number, t.step_name, t.task_id, "
    "coalesce((d.doc->>'attempt_id')::int, 0) AS attempt_id, d.doc->>'name' AS name, "
    "d.doc->>'location' AS location, d.doc->>'ds_type' AS ds_type, d.doc->>'sha' AS sha, "
    "d.doc->>'type' AS type, d.doc->>'content_type' AS content_type, "
    "d.doc->>'user_name' AS user_name FROM t, jsonb_array_elements(%(rows)s::jsonb) AS d(doc)), "
    # one primary-key lookup per posted row; LIMIT keeps the planner from turning it into a
    # join that scans the whole table once the statement runs with a generic plan
    "clash AS (SELECT 1 FROM x CROSS JOIN LATERAL (SELECT a.location, a.ds_type, a.sha, a.type, "
    "a.content_type FROM artifacts a WHERE a.flow_id = x.flow_id AND a.run_number = x.run_number "
    "AND a.step_name = x.step_name AND a.task_id = x.task_id AND a.attempt_id = x.attempt_id "
    "AND a.name = x.name LIMIT 1) a WHERE (a.location, a.ds_type, a.sha, a.type, a.content_type) "
    "IS DISTINCT FROM (x.location, x.ds_type, x.sha, x.type, x.content_type)), "
    "ins AS (INSERT INTO artifacts (flow_id, run_number, step_name, task_id, attempt_id, name, "
    "location, ds_type, sha, type, content_type, user_name) "
    "SELECT * FROM x WHERE NOT EXISTS (SELECT 1 FROM clash) ON CONFLICT DO NOTHING RETURNING 1) "
    "SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM clash), (SELECT count(*) FROM ins)")

TASK_ARTIFACTS = Variants(
    f"SELECT (SELECT coalesce(json_agg({ARTIFACT_JSON} ORDER BY a.name), '[]'::json) "
    f"FROM artifacts a WHERE {_OF_TASK.format(x='a')} AND a.attempt_id = {_LATEST_ATTEMPT}) "
    f"{_TASK_FROM}")

ATTEMPT_ARTIFACTS = Variants(
    f"SELECT (SELECT coalesce(json_agg({ARTIFACT_JSON} ORDER BY a.name), '[]'::json) "
    f"FROM artifacts a WHERE {_OF_TASK.format(x='a')} AND a.attempt_id = %(attempt)s) "
    f"{_TASK_FROM}")

# One artifact, of the task's latest attempt (or of the given one).
ARTIFACT = Variants(
    f"SELECT {ARTIFACT_JSON} FROM runs r JOIN tasks t ON {_RUN_TASK} "
    f"JOIN artifacts a ON {_OF_TASK.format(x='a')} "
    f"WHERE r.flow_id = %(flow)s AND {{run}} AND t.step_name = %(step)s AND {{task}} "
    f"AND a.name = %(name)s AND a.attempt_id = {_LATEST_ATTEMPT}")

ATTEMPT_ARTIFACT = Variants(
    f"SELECT {ARTIFACT_JSON} FROM runs r JOIN tasks t ON {_RUN_TASK} "
    f"JOIN artifacts a ON {_OF_TASK.format(x='a')} "
    f"WHERE r.flow_id = %(flow)s AND {{run}} AND t.step_name = %(step)s AND {{task}} "
    f"AND a.name = %(name)s AND a.attempt_id = %(attempt)s")
