"""The unmodified ``metaflow`` client (PyPI ``metaflow`` 2.19, installed in a throwaway venv
for the session; never a project dependency) runs a flow with a foreach against the live
service and reads the run back with its own Client API, in the venv's Python."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

METAFLOW = "metaflow>=2.19,<2.20"

FLOW = '''
from metaflow import FlowSpec, Parameter, current, step


class SquaresFlow(FlowSpec):
    """Squares in a foreach, summed in a join."""

    n = Parameter("n", default=4, type=int)

    @step
    def start(self):
        self.items = list(range(self.n))
        self.next(self.square, foreach="items")

    @step
    def square(self):
        self.value = self.input * self.input
        print("square of", self.input, "is", self.value)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("total", self.total, "in run", current.run_id)


if __name__ == "__main__":
    SquaresFlow()
'''

READ_BACK = '''
import json, sys
from metaflow import Flow, Run, namespace

namespace(None)
run = Flow("SquaresFlow")[sys.argv[1]]
square = run["square"]
start_task = run["start"].task
out = {
    "pathspec": run.pathspec,
    "successful": run.successful,
    "finished": run.finished,
    "steps": sorted(s.id for s in run),
    "total": run.data.total,
    "n": run["_parameters"].task.data.n,
    "values": sorted(t.data.value for t in square),
    "square_tasks": len(list(square)),
    "square_stdout": sorted(t.stdout.strip() for t in square),
    "end_stdout": run["end"].task.stdout,
    "system_tags": sorted(run.system_tags),
    "metadata_fields": sorted({m.name for m in start_task.metadata}),
    "attempt_ok": start_task.metadata_dict.get("attempt_ok"),
    "artifacts": sorted(a.id for a in start_task),
    "first_attempt_items": start_task["items"].data,
}
run.add_tag("reviewed")
run.replace_tag("reviewed", "approved")
out["user_tags"] = sorted(Run(run.pathspec).user_tags)
out["latest_is_this_run"] = Flow("SquaresFlow").latest_run.id == run.id
print(json.dumps(out))
'''


@pytest.fixture(scope="session")
def metaflow_python(tmp_path_factory):
    """Python of a venv with the metaflow client, made once per test session."""
    venv = tmp_path_factory.mktemp("metaflow-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    pip = subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                          "--disable-pip-version-check", METAFLOW],
                         capture_output=True, text=True, timeout=600)
    if pip.returncode != 0:
        pytest.fail(f"cannot install {METAFLOW} from PyPI into a venv:\n{pip.stderr[-2000:]}",
                    pytrace=False)
    return python


@pytest.fixture
def flow_dir(tmp_path):
    (tmp_path / "squares_flow.py").write_text(textwrap.dedent(FLOW))
    (tmp_path / "read_back.py").write_text(textwrap.dedent(READ_BACK))
    return tmp_path


def metaflow_env(service_url: str, root, auth_key: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("METAFLOW_", "HEADWATER_", "PYTHON"))}
    env.update({"METAFLOW_DEFAULT_METADATA": "service", "METAFLOW_SERVICE_URL": service_url,
                "METAFLOW_DEFAULT_DATASTORE": "local",
                "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(root / "sysroot"),
                "METAFLOW_HOME": str(root / "home"), "METAFLOW_USER": "tester",
                "USERNAME": "tester"})
    if auth_key is not None:
        env["METAFLOW_SERVICE_AUTH_KEY"] = auth_key
    return env


def run_flow(python, flow_dir, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "squares_flow.py", "--no-pylint", "run",
                           "--run-id-file", "run-id", *args], cwd=flow_dir, env=env,
                          capture_output=True, text=True, timeout=300)


def read_back(python, flow_dir, env: dict) -> dict:
    run_id = (flow_dir / "run-id").read_text().strip()
    proc = subprocess.run([str(python), "read_back.py", run_id], cwd=flow_dir, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_metaflow_runs_a_foreach_and_reads_it_back(metaflow_python, flow_dir, metadata_service):
    env = metaflow_env(metadata_service.url, flow_dir)
    proc = run_flow(metaflow_python, flow_dir, env, "--max-workers", "4")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    got = read_back(metaflow_python, flow_dir, env)
    run_id = (flow_dir / "run-id").read_text().strip()
    assert run_id.isdigit()  # allocated by the service
    assert got["pathspec"] == f"SquaresFlow/{run_id}"
    assert got["successful"] and got["finished"]
    assert got["steps"] == ["end", "join", "square", "start"]  # iteration hides _parameters
    assert got["n"] == 4
    assert got["total"] == 0 + 1 + 4 + 9
    assert got["values"] == [0, 1, 4, 9] and got["square_tasks"] == 4
    assert got["square_stdout"] == [f"square of {i} is {i * i}" for i in range(4)]
    assert f"total 14 in run {run_id}" in got["end_stdout"]
    assert "user:tester" in got["system_tags"]
    assert {"attempt", "attempt-done", "attempt_ok", "ds-root"} <= set(got["metadata_fields"])
    assert got["attempt_ok"] == "True"
    assert {"items", "name"} <= set(got["artifacts"])
    assert got["first_attempt_items"] == [0, 1, 2, 3]
    assert got["user_tags"] == ["approved"]
    assert got["latest_is_this_run"]
    # the client's heartbeat sidecars decoded the heartbeat answers (no errors printed)
    assert "HeartBeat" not in proc.stdout + proc.stderr
    assert f"/flows/SquaresFlow/runs/{run_id}/heartbeat" in metadata_service.log()


def test_metaflow_with_an_api_key(metaflow_python, flow_dir, make_database, start_service):
    service = start_service(make_database(), api_keys=("mf-key-9a1c7e",))
    refused = run_flow(metaflow_python, flow_dir, metaflow_env(service.url, flow_dir), "--n", "1")
    assert refused.returncode != 0
    assert "401" in refused.stdout + refused.stderr
    assert "mf-key-9a1c7e" not in refused.stdout + refused.stderr

    env = metaflow_env(service.url, flow_dir, auth_key="mf-key-9a1c7e")
    proc = run_flow(metaflow_python, flow_dir, env, "--n", "2")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    got = read_back(metaflow_python, flow_dir, env)
    assert got["successful"] and got["total"] == 1 and got["values"] == [0, 1]
    assert "mf-key-9a1c7e" not in service.log()
