"""A flow class used outside its command line, as users unit-test their steps (the source
document's "Unit Testing Metaflow Flows"): a plain object whose parameters read as defaults
and can be assigned, whose steps are ordinary methods, whose ``self.next`` only records."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from headwater import FlowSpec, JSONType, Parameter, current, step
from headwater.exceptions import InvalidNextError, MergeArtifactsError


class ScoringFlow(FlowSpec):
    """A small flow written the way the document writes them."""

    random_seed = Parameter("random_seed", default=7)
    test_size = Parameter("test_size", default=0.2)
    model_type = Parameter("model_type", default="random_forest")
    options = Parameter("options", type=JSONType, default='{"depth": 3}')
    run_label = Parameter("run_label", default=lambda ctx: f"label-{ctx.flow_name}")

    @step
    def start(self):
        self.started_in = (current.is_running_flow, current.step_name, current.run_id)
        self.next(self.load_data)

    @step
    def load_data(self):
        rng = np.random.default_rng(self.random_seed)
        self.raw_data = rng.normal(size=(100, 3))
        self.data_quality = {"n_rows": len(self.raw_data)}
        self.next(self.train_model)

    @step
    def train_model(self):
        cut = int(len(self.raw_data) * (1 - self.test_size))
        self.n_train = cut
        self.model = {"type": self.model_type, "depth": self.options["depth"]}
        if self.model_type == "random_forest":
            self.next(self.forest)
        else:
            self.next(self.linear)

    @step
    def forest(self):
        self.score = 0.9
        self.next(self.join)

    @step
    def linear(self):
        self.score = 0.7
        self.next(self.join)

    @step
    def join(self, inputs):
        self.merge_artifacts(inputs)
        self.next(self.end)

    @step
    def end(self):
        self.summary = f"{self.model['type']}: {self.score}"


def test_instantiating_is_a_plain_object_even_with_command_line_arguments(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["pytest", "run", "--nope"])
    flow = ScoringFlow()  # no command line, no exit
    assert isinstance(flow, ScoringFlow) and flow.name == "ScoringFlow"


def test_parameters_read_as_defaults_and_can_be_assigned():
    flow = ScoringFlow()
    assert (flow.random_seed, flow.test_size, flow.model_type) == (7, 0.2, "random_forest")
    assert flow.options == {"depth": 3}  # converted like on the command line
    assert flow.run_label == "label-ScoringFlow"  # a callable default is called
    flow.random_seed = 42
    flow.test_size = 0.5
    assert (flow.random_seed, flow.test_size) == (42, 0.5)
    assert ScoringFlow().random_seed == 7  # other objects keep the default


def test_a_step_called_directly_sets_artifacts():
    flow = ScoringFlow()
    flow.random_seed = 42
    flow.load_data()
    assert hasattr(flow, "raw_data") and flow.raw_data.shape == (100, 3)
    assert flow.data_quality["n_rows"] == 100
    same = ScoringFlow()
    same.random_seed = 42
    same.load_data()
    assert np.array_equal(flow.raw_data, same.raw_data)  # the parameter was used


def test_steps_fed_with_hand_made_artifacts():
    flow = ScoringFlow()
    flow.raw_data = np.zeros((10, 3))
    flow.test_size = 0.3
    flow.model_type = "linear"
    flow.train_model()
    assert flow.n_train == 7
    assert flow.model == {"type": "linear", "depth": 3}


def test_next_only_records_the_transition():
    flow = ScoringFlow()
    flow.start()
    assert not hasattr(flow, "raw_data")  # load_data did not run
    assert flow._state().transition.targets == ["load_data"]


def test_current_is_usable_outside_a_run():
    flow = ScoringFlow()
    flow.start()
    assert flow.started_in == (False, None, None)
    assert current.pathspec is None and current.retry_count == 0
    assert current.parameter_names == []


def test_missing_artifact_is_a_clear_attribute_error():
    flow = ScoringFlow()
    assert not hasattr(flow, "raw_data")
    with pytest.raises(AttributeError, match="'ScoringFlow' flow has no artifact 'raw_data'"):
        flow.raw_data


def test_foreach_helpers_outside_a_foreach():
    flow = ScoringFlow()
    assert flow.input is None and flow.index is None and flow.foreach_stack() == []


def test_next_checks_its_arguments_when_called():
    flow = ScoringFlow()
    with pytest.raises(InvalidNextError, match="'len', which is not a step"):
        flow.next(len)
    with pytest.raises(InvalidNextError, match="needs condition="):
        flow.next({"a": flow.forest})
    with pytest.raises(InvalidNextError, match="at least one step"):
        flow.next()
    with pytest.raises(InvalidNextError, match="exactly one step"):
        flow.next(flow.forest, flow.linear, foreach="items")


def test_whole_flow_called_step_by_step_on_one_object():
    """The document's integration test: every step called in turn on one object."""
    flow = ScoringFlow()
    flow.random_seed = 42
    flow.start()
    flow.load_data()
    flow.train_model()
    flow.forest()
    flow.join([flow])
    flow.end()
    assert flow.summary == "random_forest: 0.9"


def _branch(**artifacts) -> ScoringFlow:
    flow = ScoringFlow()
    for name, value in artifacts.items():
        setattr(flow, name, value)
    return flow


def test_merge_artifacts_on_plain_objects():
    a = _branch(shared="same", score=0.9, only_a=1)
    b = _branch(shared="same", score=0.7)
    join = ScoringFlow()
    join.merge_artifacts([a, b], exclude=["score"])
    assert (join.shared, join.only_a) == ("same", 1)
    assert not hasattr(join, "score")


def test_merge_artifacts_conflicts_name_the_artifacts():
    a = _branch(score=0.9, model="rf", same=1)
    b = _branch(score=0.7, model="lin", same=1)
    with pytest.raises(MergeArtifactsError) as info:
        ScoringFlow().merge_artifacts([a, b])
    assert info.value.artifact_names == ["model", "score"]
    assert "artifacts model, score have different values" in info.value.message
    assert "exclude=[...]" in info.value.fix


def test_merge_artifacts_keeps_what_the_join_set_and_honours_include():
    a = _branch(score=0.9, keep="k", other="x")
    b = _branch(score=0.7, keep="k", other="y")
    join = ScoringFlow()
    join.score = max(a.score, b.score)  # decided by the join itself
    join.merge_artifacts([a, b], include=["score", "keep"])
    assert (join.score, join.keep) == (0.9, "k") and not hasattr(join, "other")
    with pytest.raises(MergeArtifactsError, match="names absent, which no input has"):
        ScoringFlow().merge_artifacts([a, b], include=["absent"])


def test_join_step_called_with_a_list_of_flows():
    a = _branch(score=0.9, model={"type": "rf"})
    b = _branch(score=0.9, model={"type": "rf"})
    join = ScoringFlow()
    join.join([a, b])
    join.end()
    assert join.summary == "rf: 0.9"


def test_merge_artifacts_with_equal_arrays_on_plain_objects():
    a = _branch(features=np.arange(5))
    b = _branch(features=np.arange(5))
    join = ScoringFlow()
    join.merge_artifacts([a, b])
    assert np.array_equal(join.features, np.arange(5))
