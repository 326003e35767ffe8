"""``spin``'s pathspec forms and artifacts modules, without running a flow."""

from __future__ import annotations

import pytest

from headwater.exceptions import SpinError
from headwater.spin import SpinTarget, load_artifacts_module, parse_spin_pathspec

STEPS = ["start", "train", "join", "end"]


@pytest.mark.parametrize("pathspec, target", [
    ("train", SpinTarget("train")),
    ("12/train", SpinTarget("train", "12")),
    ("12/train/7", SpinTarget("train", "12", "7")),
    ("TrainFlow/12/train", SpinTarget("train", "12")),
    ("TrainFlow/12/train/7", SpinTarget("train", "12", "7")),
    ("argo-x/train/t-1", SpinTarget("train", "argo-x", "t-1")),
])
def test_each_form_names_step_run_and_task(pathspec, target):
    assert parse_spin_pathspec(pathspec, "TrainFlow", STEPS) == target


@pytest.mark.parametrize("pathspec, message", [
    ("nope", "TrainFlow has no step 'nope'"),
    ("12/nope/7", "TrainFlow has no step 'nope'"),
    ("OtherFlow/12/train/7", "names flow 'OtherFlow'"),
    ("OtherFlow/12/train", "names flow 'OtherFlow'"),
    ("TrainFlow/12/train/7/x", "is not a spin pathspec"),
    ("12//train", "is not a spin pathspec"),
])
def test_bad_pathspecs_say_what_is_wrong(pathspec, message):
    with pytest.raises(SpinError, match=message) as caught:
        parse_spin_pathspec(pathspec, "TrainFlow", STEPS)
    assert caught.value.fix


def test_an_artifacts_module_gives_its_dict(tmp_path):
    module = tmp_path / "inputs.py"
    module.write_text("import math\nARTIFACTS = {'lr': math.pi, 'rows': [1, 2]}\n")
    assert load_artifacts_module(str(module)) == {"lr": 3.141592653589793, "rows": [1, 2]}


@pytest.mark.parametrize("source, message", [
    ("X = 1\n", "has no ARTIFACTS"),
    ("ARTIFACTS = 3\n", "is of type int, not a dict"),
    ("ARTIFACTS = {1: 2}\n", "key 1 that is not an artifact name"),
    ("1/0\n", "raised ZeroDivisionError"),
])
def test_bad_artifacts_modules_say_what_is_wrong(tmp_path, source, message):
    module = tmp_path / "inputs.py"
    module.write_text(source)
    with pytest.raises(SpinError, match=message):
        load_artifacts_module(str(module))
