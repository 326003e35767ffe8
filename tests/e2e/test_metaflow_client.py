"""An unmodified ``metaflow`` 2.19 client (PyPI, in a throwaway venv: the fixture of
``tests/service/test_metaflow_client.py``) pointed at the dev stack's profile lists the runs,
steps and tasks Headwater recorded there.

It proves the profile the stack writes serves both tools (Metaflow's key names) and that
the service answers Metaflow's client for Headwater's runs. Metaflow does not read
``*_FILE`` settings, so it gets the API key from the environment, as the docs tell users.

What it does not prove: that Metaflow can load the artifacts' data. It cannot today: it
rejects the artifact locations Headwater records (``Flow/data/ab/<sha>``, relative to the
datastore root, where Metaflow expects the full ``<sysroot>/Flow/data/...`` location).
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap

import pytest

from headwater import Flow, namespace
from tests.service.test_metaflow_client import metaflow_python  # noqa: F401 (fixture)

from .test_dev_stack import EXAMPLES, run_python

pytestmark = pytest.mark.slow

LIST_RUNS = '''
import json, sys
from metaflow import Flow, namespace

namespace(None)
out = {}
for run in Flow(sys.argv[1]):
    # metadata only: Metaflow cannot load Headwater's artifact data (see the module docstring)
    out[run.id] = {"attempt_ok": sorted({task.metadata_dict.get("attempt_ok")
                                         for step in run for task in step}),
                   "steps": {step.id: sorted(task.id for task in step) for step in run}}
print(json.dumps(out))
'''


def test_metaflow_lists_headwater_runs_through_the_dev_stack(dev_stack, metaflow_python,
                                                             tmp_path):
    stack = dev_stack("azure")
    work = tmp_path / "work"
    work.mkdir()
    run_python([EXAMPLES / "parallel_foreach_flow.py", "run", "--n-datasets", "3",
                "--max-sleep", "0"], cwd=work)
    run_python([EXAMPLES / "hello_flow.py", "run"], cwd=work)
    namespace(None)
    expected = {}
    for name in ("ParallelProcessingFlow", "HelloFlow"):
        run = Flow(name).latest_run
        expected[name] = {run.id: {"attempt_ok": ["True"], "steps": {
            step.id: sorted(task.id for task in step) for step in run}}}

    script = tmp_path / "list_runs.py"
    script.write_text(textwrap.dedent(LIST_RUNS))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "HEADWATER_"))}
    env.update({"METAFLOW_SERVICE_AUTH_KEY": stack.api_key, "USERNAME": "tester"})
    for name, runs in expected.items():
        proc = subprocess.run([str(metaflow_python), str(script), name], cwd=work, env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        assert got == runs
        steps = next(iter(got.values()))["steps"]
        if name == "ParallelProcessingFlow":
            assert len(steps["process_dataset"]) == 3
