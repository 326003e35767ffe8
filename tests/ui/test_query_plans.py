"""The UI's statements reach the big tables through indexes, planned the way the service
runs them (prepared, so Postgres may pick a generic plan), on a database with many flows
and runs. A sequential scan there would make a page slower as the database grows."""

from __future__ import annotations

import itertools
import re

import psycopg
import pytest

from headwater_service.ui import queries as q

BIG_TABLES = ("runs", "steps", "tasks", "metadata", "artifacts")
TYPES = {"run": "bigint", "task": "bigint", "number": "bigint", "since": "bigint",
         "until": "bigint", "before_ts": "bigint", "before_number": "bigint", "limit": "bigint"}
VALUES = {"flow": "F7", "run": 1, "step": "start", "task": 1, "number": 1, "pattern": "%F7%",
          "user": "u", "tag": '["t"]', "since": 0, "until": 2**40, "before_ts": 2**40,
          "before_number": 10**9, "status": "failed", "limit": 51,
          "attempt_tag": '["attempt_id:0"]'}


@pytest.fixture(scope="module")
def filled(make_database):
    """200 flows x 20 runs x 2 steps x 5 tasks, 4 metadata rows and an artifact per task."""
    url = make_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("""
            INSERT INTO flows (flow_id) SELECT 'F' || f FROM generate_series(1, 200) f;
            INSERT INTO runs (flow_id, user_name, tags)
              SELECT 'F' || f, 'u' || (r % 7), CASE WHEN r % 5 = 0 THEN '["t"]' ELSE '[]' END::jsonb
              FROM generate_series(1, 200) f, generate_series(1, 20) r;
            INSERT INTO steps (flow_id, run_number, step_name)
              SELECT flow_id, run_number, s FROM runs, unnest(ARRAY['start', 'end']) s;
            INSERT INTO tasks (flow_id, run_number, step_name)
              SELECT flow_id, run_number, step_name FROM steps, generate_series(1, 5);
            INSERT INTO metadata (flow_id, run_number, step_name, task_id, field_name, value,
                                  type, tags)
              SELECT flow_id, run_number, step_name, task_id, f, '0', 't', '["attempt_id:0"]'
              FROM tasks, unnest(ARRAY['attempt', 'ds-type', 'attempt-done', 'attempt_ok']) f;
            INSERT INTO artifacts (flow_id, run_number, step_name, task_id, attempt_id, name,
                                   location, ds_type, sha, type, content_type)
              SELECT flow_id, run_number, step_name, task_id, 0, 'a', 'l', 'local', 's', 't', 'c'
              FROM tasks;
            ANALYZE;""")
    return url


def statements() -> dict[str, str]:
    found = {}
    for name, value in vars(q).items():
        if not name.isupper() or name.startswith("_"):
            continue
        if isinstance(value, q.Variants):
            for run, task in itertools.product((True, False), repeat=2):
                found[f"{name} run={'number' if run else 'name'} "
                      f"task={'number' if task else 'name'}"] = value.by(run, task)
        elif isinstance(value, str) and "%(" in value:
            found[name] = value
    filters = list(q.RUN_FILTERS)
    for size in (0, 1, 2):
        for chosen in itertools.combinations(filters, size):
            for status in (False, True):
                found[f"runs_page {'+'.join(chosen) or 'all'}{' +status' if status else ''}"] = \
                    q.runs_page(chosen, status)
    return found


STATEMENTS = statements()


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_the_generic_plan_uses_indexes(filled, name):
    sql = STATEMENTS[name]
    names: list[str] = []

    def number(match: re.Match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    positional = re.sub(r"%\((\w+)\)s", number, sql)
    by_name = "run=name" in name
    types = [("text" if by_name and n == "run" else
              "text" if "task=name" in name and n == "task" else TYPES.get(n, "text"))
             for n in names]
    values = [("argo-1" if t == "text" and n in ("run", "task") else VALUES[n])
              for n, t in zip(names, types)]
    with psycopg.connect(filled, cursor_factory=psycopg.ClientCursor) as conn:
        conn.execute("SET plan_cache_mode = force_generic_plan")
        conn.execute(f"PREPARE s ({', '.join(types)}) AS {positional}")
        args = ", ".join(f"%s::{t}" for t in types)
        plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN EXECUTE s({args})", values))
        conn.rollback()
    scans = [line.strip() for line in plan.splitlines()
             if re.search(rf"Seq Scan on ({'|'.join(BIG_TABLES)})\b", line)]
    assert not scans, f"{name} scans a whole table:\n{plan}"
