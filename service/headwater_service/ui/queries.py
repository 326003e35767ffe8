"""The SQL of the UI's JSON routes (read-only). User input only ever travels as a bind
parameter; the statement text is picked from fixed fragments by which filters are present,
so each variant keeps a plan that uses its index (``migrations/0003_ui_indexes.sql``).

Status, as ``headwater.Run`` / ``Task`` derive it, from metadata rows alone:

- a task's latest attempt is its newest ``attempt`` row; it has finished once an
  ``attempt-done`` row follows, and ``attempt_ok`` says whether it succeeded;
- a run has succeeded when its ``end`` task's latest attempt succeeded, failed when that
  attempt failed, and otherwise is running while its heartbeat is fresh (the scheduler
  beats every 10 s) and failed once it is stale (the scheduler is gone).
"""

from __future__ import annotations

from ..queries import NOW_S, Variants

#: Seconds without a scheduler heartbeat after which an unfinished run counts as failed.
STALE_RUN_SECONDS = 30

_RUN_ID = "coalesce(r.run_id, r.run_number::text)"

# The end step's newest attempt/attempt_ok row: which tells whether the run finished.
_END_ROW = ("LEFT JOIN LATERAL (SELECT m.field_name, m.value, m.ts_epoch FROM metadata m "
            "WHERE m.flow_id = r.flow_id AND m.run_number = r.run_number AND m.step_name = 'end' "
            "AND m.field_name IN ('attempt', 'attempt_ok') ORDER BY m.id DESC LIMIT 1) e ON true")

_STALE = (f"coalesce(r.last_heartbeat_ts, r.ts_epoch / 1000) < {NOW_S} - {STALE_RUN_SECONDS}")

RUN_STATUS = (f"CASE WHEN e.field_name = 'attempt_ok' AND e.value = 'True' THEN 'succeeded' "
              f"WHEN e.field_name = 'attempt_ok' THEN 'failed' "
              f"WHEN {_STALE} THEN 'failed' ELSE 'running' END")
_FINISHED = "CASE WHEN e.field_name = 'attempt_ok' THEN e.ts_epoch END"

_RUN_ROW = (f"json_build_object('run_id', {_RUN_ID}, 'run_number', r.run_number, "
            f"'user_name', r.user_name, 'ts_epoch', r.ts_epoch, 'tags', r.tags, "
            f"'system_tags', r.system_tags, 'status', {RUN_STATUS}, "
            f"'finished_ts', {_FINISHED}, 'last_heartbeat_ts', r.last_heartbeat_ts)")

# --- flows ---------------------------------------------------------------------------------

# Each flow with its run count and its newest run (and that run's status).
FLOWS = (
    "SELECT coalesce(json_agg(json_build_object('flow_id', f.flow_id, 'ts_epoch', f.ts_epoch, "
    "'runs', (SELECT count(*) FROM runs c WHERE c.flow_id = f.flow_id), 'last_run', l.run) "
    "ORDER BY l.ts DESC NULLS LAST, f.flow_id), '[]'::json) FROM flows f "
    f"LEFT JOIN LATERAL (SELECT r.ts_epoch AS ts, {_RUN_ROW} AS run FROM runs r {_END_ROW} "
    "WHERE r.flow_id = f.flow_id ORDER BY r.ts_epoch DESC, r.run_number DESC LIMIT 1) l ON true "
    "WHERE %(pattern)s::text IS NULL OR f.flow_id ILIKE %(pattern)s::text")

# --- runs of a flow ------------------------------------------------------------------------

#: filter name -> its condition (present filters are ANDed, in this order)
RUN_FILTERS: dict[str, str] = {
    "user": "r.user_name = %(user)s",
    "tag": "(r.tags @> %(tag)s::jsonb OR r.system_tags @> %(tag)s::jsonb)",
    "since": "r.ts_epoch >= %(since)s::bigint",
    "until": "r.ts_epoch < %(until)s::bigint",
    "before": "(r.ts_epoch, r.run_number) < (%(before_ts)s::bigint, %(before_number)s::bigint)",
}

_runs_cache: dict[tuple[str, ...], str] = {}


def runs_page(filters: tuple[str, ...], status: bool) -> str:
    """The statement for one page of runs, newest first, with the named filters (keys of
    ``RUN_FILTERS``) and, if ``status``, a status filter (``%(status)s``).

    Returns the flow's existence and the page: ``(exists, json)``."""
    key = tuple(sorted(filters)) + (("status",) if status else ())
    sql = _runs_cache.get(key)
    if sql is None:
        where = ["r.flow_id = f.flow_id"] + [RUN_FILTERS[name] for name in RUN_FILTERS
                                             if name in filters]
        inner = (f"SELECT r.ts_epoch, r.run_number, {_RUN_ROW} AS run, {RUN_STATUS} AS status "
                 f"FROM runs r {_END_ROW} WHERE {' AND '.join(where)} "
                 f"ORDER BY r.ts_epoch DESC, r.run_number DESC")
        if status:
            # the status is derived per row: filter the ordered rows, stop at the page size
            inner = f"SELECT * FROM ({inner}) x WHERE x.status = %(status)s"
        sql = _runs_cache[key] = (
            f"SELECT (SELECT coalesce(json_agg(p.run ORDER BY p.ts_epoch DESC, "
            f"p.run_number DESC), '[]'::json) FROM ({inner} LIMIT %(limit)s) p) "
            f"FROM flows f WHERE f.flow_id = %(flow)s")
    return sql


# --- one run -------------------------------------------------------------------------------

_RUN_FROM = "FROM runs r WHERE r.flow_id = %(flow)s AND {run}"

RUN = Variants(f"SELECT r.run_number, {_RUN_ROW} FROM runs r {_END_ROW} "
               f"WHERE r.flow_id = %(flow)s AND {{run}}")

# What changes while a run runs: new metadata rows, new tasks, tags, and staleness.
RUN_VERSION = Variants(
    "SELECT r.run_number, (SELECT max(m.id) FROM metadata m WHERE m.flow_id = r.flow_id "
    "AND m.run_number = r.run_number), (SELECT count(*) FROM tasks t WHERE t.flow_id = "
    "r.flow_id AND t.run_number = r.run_number), md5(r.tags::text), "
    f"{_STALE} {_RUN_FROM}")

# Every task of a run with its latest attempt's start, end and outcome, from one pass over
# the run's attempt / attempt-done / attempt_ok rows: the latest attempt is the task's
# newest `attempt` row, and only rows after it describe its end.
_TASK_OF = ("m.flow_id = t.flow_id AND m.run_number = t.run_number AND m.step_name = t.step_name "
            "AND m.task_id = t.task_id")
RUN_TASKS = (
    "WITH m AS (SELECT m.step_name, m.task_id, m.id, m.field_name, m.value, m.ts_epoch, "
    "max(m.id) FILTER (WHERE m.field_name = 'attempt') OVER (PARTITION BY m.step_name, "
    "m.task_id) AS latest FROM metadata m WHERE m.flow_id = %(flow)s "
    "AND m.run_number = %(number)s AND m.field_name IN ('attempt', 'attempt-done', 'attempt_ok')), "
    "a AS (SELECT m.step_name, m.task_id, "
    "max(m.value) FILTER (WHERE m.id = m.latest) AS attempt, "
    "max(m.ts_epoch) FILTER (WHERE m.id = m.latest) AS started, "
    "max(m.ts_epoch) FILTER (WHERE m.field_name = 'attempt-done' AND m.id > m.latest) AS finished, "
    "max(m.value) FILTER (WHERE m.field_name = 'attempt_ok' AND m.id > m.latest) AS ok "
    "FROM m GROUP BY m.step_name, m.task_id) "
    "SELECT coalesce(json_agg(json_build_object('step', t.step_name, 'task_id', "
    "coalesce(t.task_name, t.task_id::text), 'created', t.ts_epoch, 'heartbeat', "
    "t.last_heartbeat_ts, 'attempt', a.attempt, 'started', a.started, 'finished', a.finished, "
    "'ok', a.ok) ORDER BY t.step_name, t.task_id), '[]'::json) FROM tasks t "
    "LEFT JOIN a ON a.step_name = t.step_name AND a.task_id = t.task_id "
    "WHERE t.flow_id = %(flow)s AND t.run_number = %(number)s")

# The first successful attempt of each step: its index says where the step went next (a
# failed attempt's index has no transition).
STEP_FIRST_DONE = (
    "SELECT coalesce(json_agg(x), '[]'::json) FROM (SELECT DISTINCT ON (m.step_name) "
    "m.step_name AS step, coalesce(t.task_name, t.task_id::text) AS task, "
    "(SELECT substr(a.tag, 12) FROM jsonb_array_elements_text(m.tags) AS a(tag) "
    "WHERE a.tag LIKE 'attempt\\_id:%%' LIMIT 1) AS attempt FROM metadata m "
    "JOIN tasks t ON " + _TASK_OF + " "
    "WHERE m.flow_id = %(flow)s AND m.run_number = %(number)s AND m.field_name = 'attempt_ok' "
    "AND m.value = 'True' ORDER BY m.step_name, m.id) x")

# --- one task ------------------------------------------------------------------------------

_TASK_FROM = ("FROM runs r JOIN tasks t ON t.flow_id = r.flow_id AND t.run_number = r.run_number "
              "WHERE r.flow_id = %(flow)s AND {run} AND t.step_name = %(step)s AND {task}")

TASK = Variants(
    "SELECT json_build_object('task_id', coalesce(t.task_name, t.task_id::text), "
    "'task_number', t.task_id, 'step', t.step_name, 'run_id', " + _RUN_ID + ", "
    "'user_name', t.user_name, 'ts_epoch', t.ts_epoch, 'last_heartbeat_ts', t.last_heartbeat_ts, "
    "'metadata', (SELECT coalesce(json_agg(json_build_object('id', m.id, 'field_name', "
    "m.field_name, 'value', m.value, 'type', m.type, 'ts_epoch', m.ts_epoch, 'tags', m.tags) "
    f"ORDER BY m.id), '[]'::json) FROM metadata m WHERE {_TASK_OF}), "
    "'artifacts', (SELECT coalesce(json_agg(json_build_object('name', a.name, 'attempt', "
    "a.attempt_id, 'sha', a.sha, 'type', a.type, 'ds_type', a.ds_type, 'location', a.location) "
    "ORDER BY a.attempt_id, a.name), '[]'::json) FROM artifacts a WHERE "
    "a.flow_id = t.flow_id AND a.run_number = t.run_number AND a.step_name = t.step_name "
    f"AND a.task_id = t.task_id)) {_TASK_FROM}")

# ds-type and ds-root recorded by one attempt of a task (the last row of each wins).
TASK_STORE = Variants(
    "SELECT (SELECT m.value FROM metadata m WHERE " + _TASK_OF + " AND m.field_name = 'ds-type' "
    "AND m.tags @> %(attempt_tag)s::jsonb ORDER BY m.id DESC LIMIT 1), "
    "(SELECT m.value FROM metadata m WHERE " + _TASK_OF + " AND m.field_name = 'ds-root' "
    "AND m.tags @> %(attempt_tag)s::jsonb ORDER BY m.id DESC LIMIT 1), "
    "EXISTS (SELECT 1 FROM metadata m WHERE " + _TASK_OF + " AND m.field_name = 'attempt-done' "
    "AND m.tags @> %(attempt_tag)s::jsonb), t.step_name "
    + _TASK_FROM)

# Does the path exist? (for the status code of a deep link's page)
EXISTS_FLOW = "SELECT 1 FROM flows f WHERE f.flow_id = %(flow)s"
EXISTS_RUN = Variants(f"SELECT 1 {_RUN_FROM}")
EXISTS_STEP = Variants("SELECT 1 FROM runs r JOIN steps s ON s.flow_id = r.flow_id AND "
                       "s.run_number = r.run_number WHERE r.flow_id = %(flow)s AND {run} "
                       "AND s.step_name = %(step)s")
EXISTS_TASK = Variants(f"SELECT 1 {_TASK_FROM}")
