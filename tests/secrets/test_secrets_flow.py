"""``@secrets`` in real runs (local scheduler, forked tasks): the step sees its secrets, and
nothing the run stores - artifacts, task logs, metadata, console output - contains a value."""

from __future__ import annotations

import json
import os
from pathlib import Path

VALUE = "s3cr3t-Value-that-must-not-leak"
INLINE = "inline-T0ken-that-must-not-leak"

FLOW = '''
import os
from headwater import FlowSpec, current, secrets, step


class SecretFlow(FlowSpec):

    @secrets(sources=["db", {{"type": "inline", "values": {{"INLINE_TOKEN": "{inline}"}}}}])
    @step
    def start(self):
        password = current.secrets.get("db-password")
        assert os.environ["DB_PASSWORD"] == password
        assert os.environ["INLINE_TOKEN"] == "{inline}"
        self.password_length = len(password)
        self.user = os.environ["DB_USER"]
        print("connected with the password")
        self.next(self.end)

    @step
    def end(self):
        self.leaked_to_next_step = "DB_PASSWORD" in os.environ


if __name__ == "__main__":
    SecretFlow()
'''


def _write_secret(home: str, content: str) -> Path:
    folder = Path(home) / "secrets"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "db.json"
    path.write_text(content)
    return path


def _files_containing(roots: list[Path], needle: bytes, skip: set[Path] = frozenset()
                      ) -> list[str]:
    return [str(path) for root in roots for path in root.rglob("*")
            if path.is_file() and path not in skip and needle in path.read_bytes()]


def test_secrets_reach_the_step_and_nothing_stored(write_flow, run_flow, hw_env, tmp_path):
    secret_file = _write_secret(os.environ["METAFLOW_HOME"],
                                json.dumps({"DB_PASSWORD": VALUE, "DB_USER": "app"}))
    flow = write_flow(FLOW.format(inline=INLINE))
    proc = run_flow(flow, "run", cwd=tmp_path)

    from headwater import Flow

    run = Flow("SecretFlow").latest_run
    assert run.successful
    assert run.data.password_length == len(VALUE) and run.data.user == "app"
    assert run.data.leaked_to_next_step is False
    assert "connected with the password" in run["start"].task.stdout
    # Everything the run wrote: datastore (artifacts, logs), metadata, the working folder.
    roots = [Path(hw_env), Path(os.environ["METAFLOW_HOME"]), tmp_path]
    assert _files_containing(roots, b"connected with the password")  # the scan sees logs
    for needle in (VALUE, INLINE):
        assert needle not in proc.stdout + proc.stderr
        assert _files_containing(roots, needle.encode(), skip={secret_file, flow}) == []


def test_a_bad_secret_fails_the_step_naming_the_key_not_the_value(write_flow, run_flow,
                                                                  hw_env, tmp_path):
    _write_secret(os.environ["METAFLOW_HOME"], json.dumps({"DB PASSWORD": VALUE}))
    flow = write_flow(FLOW.format(inline=INLINE))
    proc = run_flow(flow, "run", cwd=tmp_path, check=False)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "'DB PASSWORD'" in output and "not a valid name" in output
    assert VALUE not in output
    assert _files_containing([Path(hw_env)], VALUE.encode()) == []
