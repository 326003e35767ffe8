"""Shared helpers of the metadata service tests."""

from __future__ import annotations

import uuid

import httpx


def make_task(api: httpx.Client, flow: str, step: str = "start") -> tuple[str, str]:
    """Register flow, run, step and task; returns (run_number, task_id) as strings."""
    assert api.post(f"/flows/{flow}", json={"user_name": "tester"}).status_code in (200, 409)
    run = api.post(f"/flows/{flow}/run", json={"user_name": "tester", "tags": ["t1"],
                                               "system_tags": ["user:tester"]})
    assert run.status_code == 200, run.text
    run_number = str(run.json()["run_number"])
    step_path = f"/flows/{flow}/runs/{run_number}/steps/{step}"
    assert api.post(f"{step_path}/step", json={"user_name": "tester"}).status_code == 200
    task = api.post(f"{step_path}/task", json={"user_name": "tester"})
    assert task.status_code == 200, task.text
    return run_number, str(task.json()["task_id"])


def artifact(name: str, attempt: int = 0, sha: str | None = None) -> dict:
    sha = sha or uuid.uuid4().hex
    return {"name": name, "location": f"/data/{sha}", "ds_type": "local", "sha": sha,
            "type": "metaflow.artifact", "content_type": "gzip+pickle-v2",
            "attempt_id": attempt, "user_name": "tester", "tags": [], "system_tags": []}
