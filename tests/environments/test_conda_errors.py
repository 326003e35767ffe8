"""Each way a @conda environment can fail stops the run before it starts, in one line (and
a Fix line), with nothing stored in the snapshot. The rattler backend solves against a local
channel built in the test; the unreachable channel is a dead local port."""

from __future__ import annotations

import json

import pytest

from .conda_channel import index_channel, write_package
from .conftest import DEAD_INDEX
from .test_errors import FLOW, _fails


@pytest.fixture
def channel(tmp_path):
    root = tmp_path / "channel"
    write_package(root, "tinyver", "1.0.0")
    write_package(root, "tinyver", "2.0.0")
    write_package(root, "tinydep", "0.1", ("tinyver >=2",))
    write_package(root, "winonly", "1.0", subdir="win-64")
    index_channel(root)
    return root


def _conda_fails(write_flow, run_flow, libraries, channels, env=None) -> str:
    return _fails(write_flow, run_flow, libraries, deco="conda", field="libraries", env=env,
                  extra=f", channels={channels!r}")


@pytest.mark.parametrize("libraries, expected", [
    ({"no-such-thing": "1.0"}, "package 'no-such-thing' is not in the conda channel(s) file://"),
    ({"tinyver": "9.0"}, "tinyver has no version ==9.0 in the conda channel(s) file://"),
    ({"tinyver": "1.0.0", "tinydep": "0.1"}, "conflicting pins in the environment python"),
    ({"winonly": "1.0"}, "winonly has no conda build for linux-64 in file://"),
], ids=["no-such-package", "no-such-version", "conflicting-pins", "no-build-for-platform"])
def test_resolution_errors(write_flow, run_flow, env_cache, hw_env, channel, libraries,
                           expected):
    err = _conda_fails(write_flow, run_flow, libraries, [channel.as_uri()])
    assert expected in err
    assert not (hw_env / "environments").exists()  # nothing half-stored in the snapshot


def test_missing_version_lists_the_existing_ones(write_flow, run_flow, env_cache, channel):
    err = _conda_fails(write_flow, run_flow, {"tinyver": "9.0"}, [channel.as_uri()])
    assert "Fix: pick an existing version: 1.0.0, 2.0.0" in err


def test_unreachable_channel_without_snapshot(write_flow, run_flow, env_cache, hw_env):
    err = _conda_fails(write_flow, run_flow, {"tinyver": "1.0.0"}, [DEAD_INDEX])
    assert f"the conda channel(s) {DEAD_INDEX} cannot be reached and no snapshot of the " \
           "environment python" in err
    assert not (hw_env / "environments").exists()


def test_remote_task_without_snapshot(write_flow, run_flow, env_cache, channel):
    from headwater.task import TaskSpec

    flow = write_flow(FLOW.format(deco="conda", field="libraries", packages={"tinyver": "1.0.0"},
                                  extra=f", channels={[channel.as_uri()]!r}"))
    spec = TaskSpec(flow_name="BadEnvFlow", run_id="1", step_name="start", task_id="1",
                    attempt=0, inputs=[], user="tester")
    proc = run_flow(flow, "step", "--spec", json.dumps(spec.to_json()), check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "no snapshot of the environment python" in proc.stderr


def test_no_backend_says_how_to_switch_to_pypi(write_flow, run_flow, env_cache, hw_env,
                                               tmp_path, monkeypatch):
    """Neither tool on PATH and py-rattler unimportable (a package of that name that fails
    to import shadows the installed one)."""
    import os
    import shutil

    assert shutil.which("micromamba") is None and shutil.which("conda") is None
    shadow = tmp_path / "shadow" / "rattler"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('py-rattler is not installed')\n")
    path = os.pathsep.join([str(shadow.parent), os.environ.get("PYTHONPATH", "")])
    err = _fails(write_flow, run_flow, {"six": "1.16.0"}, deco="conda", field="libraries",
                 env={"PYTHONPATH": path})
    assert "@conda needs micromamba, conda or py-rattler, and none is installed" in err
    assert "use @pypi(packages={'six': '1.16.0'}, python='3." in err
    assert not (hw_env / "environments").exists()


def test_configured_backend_not_installed(write_flow, run_flow, env_cache, channel):
    err = _conda_fails(write_flow, run_flow, {"tinyver": "1.0.0"}, [channel.as_uri()],
                       env={"HEADWATER_CONDA_BACKEND": "micromamba"})
    assert "the conda backend 'micromamba' is not installed here" in err
    assert "unset HEADWATER_CONDA_BACKEND" in err
    err = _conda_fails(write_flow, run_flow, {"tinyver": "1.0.0"}, [channel.as_uri()],
                       env={"HEADWATER_CONDA_BACKEND": "mamba"})
    assert "unknown conda backend 'mamba'" in err
    assert "known: conda, micromamba, rattler" in err


def test_python_in_libraries(write_flow, run_flow, env_cache, channel):
    err = _conda_fails(write_flow, run_flow, {"python": "3.12"}, [channel.as_uri()])
    assert "cannot pin python" in err and "@conda(python='3.11')" in err


def test_bad_channels_argument(write_flow, run_flow):
    err = _conda_fails(write_flow, run_flow, {"tinyver": "1.0.0"}, "conda-forge")
    assert "@conda(channels=...) on step 'start' takes a list of channel names or URLs" in err
