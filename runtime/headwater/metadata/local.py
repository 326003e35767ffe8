"""The local metadata provider: JSON files beside the local datastore (zero set-up).

Layout under the local sysroot (``METAFLOW_DATASTORE_SYSROOT_LOCAL``, default
``./.headwater``)::

    <Flow>/_meta/flow.json
    <Flow>/<run>/_meta/run.json            run object; tags.json holds mutable user tags
    <Flow>/<run>/<step>/_meta/step.json
    <Flow>/<run>/<step>/<task>/_meta/task.json
    <Flow>/<run>/<step>/<task>/_meta/md-<ms>-<pid>-<n>.json     metadata rows (append-only)
    <Flow>/<run>/<step>/<task>/_meta/artifacts-<attempt>.json

Every file is written to a temporary name and renamed, so readers never see a partial
record. Metadata rows are separate files so concurrent writers never need a lock.
"""

from __future__ import annotations

import itertools
import json
import os
from typing import TYPE_CHECKING, Any

from ..atomic import write_atomic
from ..exceptions import MetadataError, ObjectNotFound
from .base import ArtifactRecord, MetadataEntry, MetadataProvider, now_ms

if TYPE_CHECKING:
    from ..settings import Settings

_seq = itertools.count()


def _write_json(path: str, obj: Any) -> None:
    write_atomic(path, json.dumps(obj, separators=(",", ":")))


def _read_json(path: str) -> Any:
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise MetadataError(f"metadata file {path} is unreadable: {exc}",
                            "the run may be damaged; start a new run") from None


def _is_id(name: str) -> bool:
    return not name.startswith((".", "_")) and name != "data"


class LocalMetadataProvider(MetadataProvider):
    """Records runs as files under a local folder."""

    TYPE = "local"

    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        self._next_task: dict[tuple[str, str], int] = {}

    @classmethod
    def from_settings(cls, settings: "Settings") -> "LocalMetadataProvider":
        from ..datastore.local import local_root

        return cls(local_root(settings))

    def describe(self) -> str:
        return f"local@{self.root}"

    # --- paths ---------------------------------------------------------------------------

    def _dir(self, *parts: str) -> str:
        for part in parts:
            if not part or "/" in part or part in (".", ".."):
                raise MetadataError(f"invalid name {part!r} in a metadata path")
        return os.path.join(self.root, *parts)

    def _meta(self, *parts: str) -> str:
        return os.path.join(self._dir(*parts), "_meta")

    # --- writing -------------------------------------------------------------------------

    def register_flow(self, flow_name: str, user: str) -> dict:
        path = os.path.join(self._meta(flow_name), "flow.json")
        flow = _read_json(path)
        if flow is None:
            flow = {"flow_id": flow_name, "user_name": user, "ts_epoch": now_ms(),
                    "tags": [], "system_tags": []}
            _write_json(path, flow)
        return flow

    def new_run(self, flow_name: str, user: str, tags: list[str], system_tags: list[str],
                run_id: str | None = None) -> dict:
        flow_dir = self._dir(flow_name)
        os.makedirs(flow_dir, exist_ok=True)
        if run_id is None:
            existing = [int(n) for n in os.listdir(flow_dir) if n.isdigit()]
            number = max(existing, default=0) + 1
            while True:  # mkdir is the atomic claim; another process may win a number
                try:
                    os.mkdir(os.path.join(flow_dir, str(number)))
                    break
                except FileExistsError:
                    number += 1
            run_id = str(number)
        else:
            os.makedirs(self._dir(flow_name, run_id), exist_ok=True)
        now = now_ms()
        run = {"flow_id": flow_name, "run_number": run_id, "run_id": run_id,
               "user_name": user, "ts_epoch": now, "tags": list(tags),
               "system_tags": list(system_tags), "last_heartbeat_ts": now // 1000}
        _write_json(os.path.join(self._meta(flow_name, run_id), "run.json"), run)
        return run

    def register_step(self, flow_name: str, run_id: str, step_name: str, user: str) -> dict:
        path = os.path.join(self._meta(flow_name, run_id, step_name), "step.json")
        step = _read_json(path)
        if step is None:
            step = {"flow_id": flow_name, "run_number": run_id, "step_name": step_name,
                    "user_name": user, "ts_epoch": now_ms(), "tags": [], "system_tags": []}
            _write_json(path, step)
        return step

    def new_task(self, flow_name: str, run_id: str, step_name: str, user: str,
                 task_id: str | None = None) -> dict:
        if task_id is None:
            task_id = str(self._allocate_task_id(flow_name, run_id))
        now = now_ms()
        task = {"flow_id": flow_name, "run_number": run_id, "step_name": step_name,
                "task_id": task_id, "user_name": user, "ts_epoch": now, "tags": [],
                "system_tags": [], "last_heartbeat_ts": now // 1000}
        _write_json(os.path.join(self._meta(flow_name, run_id, step_name, task_id),
                                 "task.json"), task)
        return task

    def _allocate_task_id(self, flow_name: str, run_id: str) -> int:
        # The scheduler is the only allocator of a run's task ids; it scans once for the
        # highest id (a resumed or re-entered run) and counts up from there.
        key = (flow_name, run_id)
        if key not in self._next_task:
            highest = 0
            run_dir = self._dir(flow_name, run_id)
            for step in os.listdir(run_dir) if os.path.isdir(run_dir) else []:
                step_dir = os.path.join(run_dir, step)
                if _is_id(step) and os.path.isdir(step_dir):
                    highest = max([highest] + [int(t) for t in os.listdir(step_dir)
                                               if t.isdigit()])
            self._next_task[key] = highest + 1
        task_id = self._next_task[key]
        self._next_task[key] = task_id + 1
        return task_id

    def register_metadata(self, flow_name: str, run_id: str, step_name: str, task_id: str,
                          user: str, entries: list[MetadataEntry]) -> None:
        if not entries:
            return
        now = now_ms()
        rows = []
        for entry in entries:
            row = entry.to_dict(user)
            row.update(flow_id=flow_name, run_number=run_id, step_name=step_name,
                       task_id=task_id, ts_epoch=now)
            rows.append(row)
        name = f"md-{now}-{os.getpid()}-{next(_seq)}.json"
        _write_json(os.path.join(self._meta(flow_name, run_id, step_name, task_id), name), rows)

    def register_artifacts(self, flow_name: str, run_id: str, step_name: str, task_id: str,
                           user: str, artifacts: list[ArtifactRecord]) -> None:
        now = now_ms()
        by_attempt: dict[int, list[dict]] = {}
        for art in artifacts:
            row = art.to_dict(user)
            row.update(flow_id=flow_name, run_number=run_id, step_name=step_name,
                       task_id=task_id, ts_epoch=now)
            by_attempt.setdefault(art.attempt_id, []).append(row)
        meta = self._meta(flow_name, run_id, step_name, task_id)
        for attempt, rows in by_attempt.items():
            _write_json(os.path.join(meta, f"artifacts-{attempt}.json"), rows)

    def heartbeat(self, flow_name: str, run_id: str, step_name: str | None = None,
                  task_id: str | None = None) -> None:
        if step_name is not None and task_id is not None:
            meta = self._meta(flow_name, run_id, step_name, task_id)
        else:
            meta = self._meta(flow_name, run_id)
        path = os.path.join(meta, "heartbeat")
        try:
            os.utime(path)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, "a").close()

    def mutate_run_tags(self, flow_name: str, run_id: str, add: list[str],
                        remove: list[str]) -> list[str]:
        run = self.get_run(flow_name, run_id)
        if run is None:
            raise ObjectNotFound(f"run {flow_name}/{run_id} does not exist")
        tags = [t for t in run["tags"] if t not in set(remove)]
        tags += [t for t in dict.fromkeys(add) if t not in tags]
        _write_json(os.path.join(self._meta(flow_name, run_id), "tags.json"), tags)
        return tags

    # --- reading -------------------------------------------------------------------------

    def _listdir(self, *parts: str) -> list[str]:
        try:
            return [n for n in os.listdir(self._dir(*parts)) if _is_id(n)]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def get_flows(self) -> list[dict]:
        flows = []
        for name in sorted(os.listdir(self.root)) if os.path.isdir(self.root) else []:
            if _is_id(name):
                flow = _read_json(os.path.join(self.root, name, "_meta", "flow.json"))
                if flow:
                    flows.append(flow)
        return flows

    def get_flow(self, flow_name: str) -> dict | None:
        return _read_json(os.path.join(self._meta(flow_name), "flow.json"))

    def get_runs(self, flow_name: str) -> list[dict]:
        runs = [r for r in (self.get_run(flow_name, n) for n in self._listdir(flow_name)) if r]
        return sorted(runs, key=lambda r: (r["ts_epoch"], _num(r["run_number"])), reverse=True)

    def get_run(self, flow_name: str, run_id: str) -> dict | None:
        meta = self._meta(flow_name, run_id)
        run = _read_json(os.path.join(meta, "run.json"))
        if run is None:
            return None
        tags = _read_json(os.path.join(meta, "tags.json"))
        if tags is not None:
            run["tags"] = tags
        run["last_heartbeat_ts"] = _mtime(os.path.join(meta, "heartbeat"),
                                          run["last_heartbeat_ts"])
        return run

    def _with_run_tags(self, obj: dict, flow_name: str, run_id: str) -> dict:
        run = self.get_run(flow_name, run_id) or {"tags": [], "system_tags": []}
        obj["tags"], obj["system_tags"] = run["tags"], run["system_tags"]
        return obj

    def get_steps(self, flow_name: str, run_id: str) -> list[dict]:
        steps = [self.get_step(flow_name, run_id, s) for s in self._listdir(flow_name, run_id)]
        return sorted((s for s in steps if s), key=lambda s: s["ts_epoch"], reverse=True)

    def get_step(self, flow_name: str, run_id: str, step_name: str) -> dict | None:
        step = _read_json(os.path.join(self._meta(flow_name, run_id, step_name), "step.json"))
        return self._with_run_tags(step, flow_name, run_id) if step else None

    def get_tasks(self, flow_name: str, run_id: str, step_name: str) -> list[dict]:
        run = self.get_run(flow_name, run_id) or {"tags": [], "system_tags": []}
        tasks = []
        for task_id in self._listdir(flow_name, run_id, step_name):
            task = self._read_task(flow_name, run_id, step_name, task_id)
            if task:
                task["tags"], task["system_tags"] = run["tags"], run["system_tags"]
                tasks.append(task)
        return sorted(tasks, key=lambda t: _num(t["task_id"]), reverse=True)

    def _read_task(self, flow_name: str, run_id: str, step_name: str, task_id: str) -> dict | None:
        meta = self._meta(flow_name, run_id, step_name, task_id)
        task = _read_json(os.path.join(meta, "task.json"))
        if task:
            task["last_heartbeat_ts"] = _mtime(os.path.join(meta, "heartbeat"),
                                               task["last_heartbeat_ts"])
        return task

    def get_task(self, flow_name: str, run_id: str, step_name: str,
                 task_id: str) -> dict | None:
        task = self._read_task(flow_name, run_id, step_name, task_id)
        return self._with_run_tags(task, flow_name, run_id) if task else None

    def get_metadata(self, flow_name: str, run_id: str, step_name: str,
                     task_id: str) -> list[dict]:
        meta = self._meta(flow_name, run_id, step_name, task_id)
        try:
            names = sorted((n for n in os.listdir(meta) if n.startswith("md-")),
                           key=lambda n: tuple(int(p) for p in n[3:-5].split("-")))
        except FileNotFoundError:
            return []
        rows: list[dict] = []
        for name in names:
            rows.extend(_read_json(os.path.join(meta, name)) or [])
        return rows

    def get_artifacts(self, flow_name: str, run_id: str, step_name: str, task_id: str,
                      attempt: int | None = None) -> list[dict]:
        meta = self._meta(flow_name, run_id, step_name, task_id)
        if attempt is None:
            try:
                attempts = [int(n[10:-5]) for n in os.listdir(meta)
                            if n.startswith("artifacts-")]
            except FileNotFoundError:
                return []
            if not attempts:
                return []
            attempt = max(attempts)
        rows = _read_json(os.path.join(meta, f"artifacts-{attempt}.json")) or []
        if rows:
            run = self.get_run(flow_name, run_id) or {"tags": [], "system_tags": []}
            for row in rows:
                row["tags"], row["system_tags"] = run["tags"], run["system_tags"]
        return rows


def _num(value: Any) -> tuple:
    text = str(value)
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


def _mtime(path: str, default: int) -> int:
    try:
        return int(os.stat(path).st_mtime)
    except FileNotFoundError:
        return default
