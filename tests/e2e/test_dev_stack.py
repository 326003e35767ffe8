"""The distribution's acceptance test, once per cloud: ``headwater dev up`` (Postgres from
pgserver, the metadata service, Azurite or moto), every example flow run in shared mode with
the stack's profile and read back through the Client API, a failing run resumed, a
``@secrets`` flow, then ``dev down`` and ``dev up`` again and every run read back unchanged.

What it proves: the pieces of the distribution work together through the same profile
format the cloud stacks emit (artifacts in the blob store, runs in the service, secrets from
the cloud's backend), and nothing is lost across a restart of the whole stack. What it does
not: real Azure or AWS endpoints and identities (emulators accept any credential).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from headwater import Flow, namespace

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

pytestmark = pytest.mark.slow

# Every example, with arguments that keep it short, and a check of what it computed.
EXAMPLE_RUNS = [
    ("hello_flow.py", [], "HelloFlow",
     lambda run: run.data.processed_data == [0, 1, 4, 9, 16]),
    ("ml_flow.py", ["--n-samples", "2000"], "ProductionMLFlow",
     lambda run: 0.8 < run["evaluate_model"].task.data.metrics["test_accuracy"] <= 1.0),
    ("parallel_foreach_flow.py", ["--n-datasets", "4", "--max-sleep", "0.01"],
     "ParallelProcessingFlow",
     lambda run: run.data.summary["total_datasets"] == 4
     and len(list(run["process_dataset"])) == 4),
    ("conditional_branching_flow.py", ["--quality-score", "0.9"], "ConditionalBranchingFlow",
     lambda run: run.data.final_result["processing_method"] == "advanced_ml"),
    ("retry_catch_flow.py", [], "RobustFlow",
     lambda run: run["fetch_external_data"].task.data.fetch_attempts == 2
     and run.data.summary["transform_failed"]),
    ("config_flow.py", [], "ConfigurableMLFlow",
     lambda run: run["train_model"].task.data.model.n_estimators == 20),
]

FAILING_FLOW = '''
import os
from headwater import FlowSpec, step


class FlakyJoinFlow(FlowSpec):
    """A foreach whose join fails until the marker file exists."""

    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.out = self.input * 10
        self.next(self.join)

    @step
    def join(self, inputs):
        if not os.path.exists(os.environ["FIXED_MARKER"]):
            raise ValueError("join is broken")
        self.total = sum(i.out for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FlakyJoinFlow()
'''

SECRETS_FLOW = '''
import os
from headwater import FlowSpec, current, secrets, step


class DevSecretFlow(FlowSpec):

    @secrets(sources=["db"])
    @step
    def start(self):
        self.user = os.environ["DB_USER"]
        self.password_length = len(os.environ["DB_PASSWORD"])
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DevSecretFlow()
'''

SECRET_VALUE = "dev-stack-s3cret-that-must-not-leak"


def run_python(args: list, cwd: Path, check: bool = True, env: dict | None = None,
               timeout: float = 300) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}\n{proc.stdout[-3000:]}\n"
                             f"{proc.stderr[-3000:]}")
    return proc


def snapshot(flow_names: list[str]) -> dict:
    """Every run of these flows as the Client API reads it: steps, tasks, their status and
    every artifact's content hash (each artifact is loaded, so its bytes are readable)."""
    out = {}
    for name in flow_names:
        for run in Flow(name):
            tasks = {}
            for step in run:
                for task in step:
                    artifacts = {}
                    for artifact in task:
                        artifact.data  # the bytes are there and deserialize
                        artifacts[artifact.id] = artifact.sha
                    tasks[task.pathspec] = (task.successful, artifacts)
            out[run.pathspec] = {"successful": run.successful, "tasks": tasks}
    return out


def write_secret(stack, cloud: str) -> None:
    values = {"DB_USER": "app", "DB_PASSWORD": SECRET_VALUE}
    if cloud == "azure":
        folder = stack.home / "secrets"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "db.json").write_text(json.dumps(values))
    else:
        import boto3

        boto3.session.Session().client("secretsmanager").create_secret(
            Name="db", SecretString=json.dumps(values))


@pytest.mark.parametrize("cloud", ["azure", "aws"])
def test_every_example_in_shared_mode_survives_a_restart(dev_stack, cloud, tmp_path):
    stack = dev_stack(cloud)
    profile = stack.profile
    expected_store = {"azure": "azure", "aws": "s3"}[cloud]
    assert profile["METAFLOW_DEFAULT_DATASTORE"] == expected_store
    assert profile["METAFLOW_DEFAULT_METADATA"] == "service"
    profile_text = (stack.home / "config_dev.json").read_text()
    assert stack.api_key not in profile_text and "AccountKey" not in profile_text
    namespace(None)

    work = tmp_path / "work"
    work.mkdir()
    for file, args, flow_name, check in EXAMPLE_RUNS:
        run_python([EXAMPLES / file, "run", *args], cwd=work)
        run = Flow(flow_name).latest_run
        assert run.successful, file
        assert check(run), file
        # the run is in the service and its artifacts in the emulator, not on local disk
        start = run["start"].task
        assert start.metadata_dict.get("ds-type") == expected_store
    assert not (work / ".headwater").exists()

    # a failing run, then resume: the foreach tasks are reused, the join reruns
    flow_file = tmp_path / "flaky_join_flow.py"
    flow_file.write_text(textwrap.dedent(FAILING_FLOW))
    marker = tmp_path / "fixed"
    env = {"FIXED_MARKER": str(marker)}
    failed = run_python([flow_file, "run"], cwd=work, check=False, env=env)
    assert failed.returncode != 0 and "join is broken" in failed.stdout + failed.stderr
    failed_run = Flow("FlakyJoinFlow").latest_run
    assert not failed_run.successful
    marker.write_text("")
    run_python([flow_file, "resume", "--origin-run-id", failed_run.id], cwd=work, env=env)
    resumed = Flow("FlakyJoinFlow").latest_run
    assert resumed.id != failed_run.id and resumed.successful
    assert resumed.data.total == 60
    assert all(t.origin_pathspec for t in resumed["work"])  # cloned, not rerun

    # @secrets from the stack's backend (env files for azure, moto's Secrets Manager for aws)
    write_secret(stack, cloud)
    secrets_file = tmp_path / "dev_secret_flow.py"
    secrets_file.write_text(textwrap.dedent(SECRETS_FLOW))
    proc = run_python([secrets_file, "run"], cwd=work)
    secret_run = Flow("DevSecretFlow").latest_run
    assert secret_run["start"].task.data.user == "app"
    assert secret_run["start"].task.data.password_length == len(SECRET_VALUE)
    assert SECRET_VALUE not in proc.stdout + proc.stderr
    assert stack.api_key not in stack.service_log()

    flows = [name for _, _, name, _ in EXAMPLE_RUNS] + ["FlakyJoinFlow", "DevSecretFlow"]
    before = snapshot(flows)
    assert len(before) == len(EXAMPLE_RUNS) + 3

    # a second `up` changes nothing
    again = stack.up()
    assert "nothing changed" in again.stdout
    status = stack.cli("status")
    assert status.stdout.count("healthy") == 3, status.stdout

    pids = dict(stack.state["processes"])
    stopped = stack.down()
    assert "stopped" in stopped.stdout
    for rec in pids.values():
        assert not _alive(rec["pid"])
    assert stack.cli("status", check=False).stdout.startswith("no dev stack")
    stack.up()
    assert snapshot(flows) == before
    digest = hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()
    assert digest  # the comparison above is the check; the digest keeps failures short


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False
