"""No statement scans a whole table: every statement in ``queries.py`` is planned the way the
service runs it (prepared, so Postgres may use a generic plan) on a database with many
flows, and its plan must reach the big tables through their indexes. A sequential scan there
makes a request slower as the database grows."""

from __future__ import annotations

import re

import orjson
import psycopg
import pytest

from headwater_service import queries as q

BIG_TABLES = ("runs", "steps", "tasks", "metadata", "artifacts")
PARAM_TYPES = {"attempt": "int", "match_all": "boolean", "number": "bigint"}


@pytest.fixture(scope="module")
def filled(make_database):
    """200 flows x 5 runs x 2 steps x 5 tasks, with 3 metadata rows and 1 artifact each.

    Sizes matter: at about 10,000 rows a whole-table scan still looks cheap to the planner,
    so a statement that can be planned that way shows it here (at 30,000 it may not)."""
    url = make_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("""
            INSERT INTO flows (flow_id) SELECT 'F' || f FROM generate_series(1, 200) f;
            INSERT INTO runs (flow_id, user_name) SELECT 'F' || f, 'u'
              FROM generate_series(1, 200) f, generate_series(1, 5);
            INSERT INTO steps (flow_id, run_number, step_name)
              SELECT flow_id, run_number, s FROM runs, unnest(ARRAY['start', 'end']) s;
            INSERT INTO tasks (flow_id, run_number, step_name)
              SELECT flow_id, run_number, step_name FROM steps, generate_series(1, 5);
            INSERT INTO metadata (flow_id, run_number, step_name, task_id, field_name, value, type)
              SELECT flow_id, run_number, step_name, task_id, 'f' || i, 'v', 't'
              FROM tasks, generate_series(1, 3) i;
            INSERT INTO artifacts (flow_id, run_number, step_name, task_id, attempt_id, name,
                                   location, ds_type, sha, type, content_type)
              SELECT flow_id, run_number, step_name, task_id, 0, 'a' || i, 'l', 'local', 's',
                     't', 'c' FROM tasks, generate_series(1, 1) i;
            ANALYZE;""")
    return url


def statements() -> dict[str, tuple[str, bool, bool]]:
    """name -> (sql, run addressed by number, task addressed by number)."""
    found = {}
    for name, value in vars(q).items():
        if not name.isupper() or name.startswith("_"):
            continue
        if isinstance(value, q.Variants):
            for run in (True, False):
                for task in (True, False):
                    found[f"{name}, run by {'number' if run else 'name'}, task by "
                          f"{'number' if task else 'name'}"] = (value.by(run, task), run, task)
        elif isinstance(value, str) and "%(" in value:
            found[name] = (value, True, True)
    return found


STATEMENTS = statements()


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_the_generic_plan_uses_indexes(filled, name):
    sql, run_is_number, task_is_number = STATEMENTS[name]
    names: list[str] = []

    def number(match: re.Match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    positional = re.sub(r"%\((\w+)\)s", number, sql)
    rows = orjson.dumps([{"name": "a1", "location": "l", "ds_type": "d", "sha": "s", "type": "t",
                          "content_type": "c", "attempt_id": 0, "field_name": "f", "value": "v"}])
    values = {"flow": "F7", "run": 1 if run_is_number else "argo-1", "step": "start",
              "task": 1 if task_is_number else "t-1", "number": 1, "attempt": 0,
              "match_all": False, "rows": rows.decode(), "tags": "[]", "system_tags": "[]"}
    param_types = {**PARAM_TYPES, "run": "bigint" if run_is_number else "text",
                   "task": "bigint" if task_is_number else "text"}
    types = [param_types.get(n, "text") for n in names]
    # client-side binding: PREPARE's $n must reach the server as written
    with psycopg.connect(filled, cursor_factory=psycopg.ClientCursor) as conn:
        conn.execute("SET plan_cache_mode = force_generic_plan")
        conn.execute(f"PREPARE s ({', '.join(types)}) AS {positional}")
        args = ", ".join(f"%s::{t}" for t in types)
        plan = "\n".join(r[0] for r in conn.execute(
            f"EXPLAIN EXECUTE s({args})", [values.get(n, "x") for n in names]))
        conn.rollback()  # EXPLAIN without ANALYZE writes nothing; leave nothing open either
    scans = [line.strip() for line in plan.splitlines()
             if re.search(rf"Seq Scan on ({'|'.join(BIG_TABLES)})\b", line)]
    assert not scans, f"{name} scans a whole table:\n{plan}"
