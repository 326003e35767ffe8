"""Bad input on the flow's command line: one message naming the problem and the fix, a
non-zero exit, no traceback unless ``--debug``, and nothing written to the datastore."""

from __future__ import annotations

import pytest

BROKEN_GRAPH = """
    from headwater import FlowSpec, step

    class BrokenFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.middle)

        @step
        def middle(self):  # HERE
            self.result = 1

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        BrokenFlow()
"""

GOOD = """
    from headwater import Config, FlowSpec, Parameter, retry, step

    class GoodFlow(FlowSpec):
        n = Parameter("n", default=3)
        label = Parameter("label", required=True)
        config = Config("config", default_value={"a": 1})

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        GoodFlow()
"""

TWO_CONFIGS = """
    from headwater import Config, FlowSpec, step

    class TwoConfigFlow(FlowSpec):
        train = Config("train", default_value={"lr": 1})
        serve = Config("serve", default_value={"port": 80})

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        TwoConfigFlow()
"""

BAD_DECORATOR = """
    from headwater import FlowSpec, project, retry, step

    @project(name="Bad Name")
    class BadDecoFlow(FlowSpec):
        @retry(times=-1)
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        BadDecoFlow()
"""


NO_END = """
    from headwater import FlowSpec, step

    class NoEndFlow(FlowSpec):  # HERE
        @step
        def start(self):
            self.next(self.finish)

        @step
        def finish(self):
            pass

    if __name__ == "__main__":
        NoEndFlow()
"""


def assert_clean_error(proc, *fragments: str, code: int = 1) -> None:
    out = proc.stdout + proc.stderr
    assert proc.returncode == code, out
    for fragment in fragments:
        assert fragment in proc.stderr, out
    assert "Traceback" not in out


def assert_nothing_stored(sysroot) -> None:
    assert not sysroot.exists() or not any(p.is_file() for p in sysroot.rglob("*"))


@pytest.mark.parametrize("command,source,message,fix", [
    ("check", BROKEN_GRAPH, "step 'middle' never calls self.next()",
     "end step 'middle' with e.g. self.next(self.end)"),
    ("show", BROKEN_GRAPH, "step 'middle' never calls self.next()",
     "end step 'middle' with e.g. self.next(self.end)"),
    ("run", BROKEN_GRAPH, "step 'middle' never calls self.next()",
     "end step 'middle' with e.g. self.next(self.end)"),
    ("check", NO_END, "flow NoEndFlow has no 'end' step",
     "add a step named 'end' (decorated with @step)"),
], ids=["check", "show", "run", "check-no-end"])
def test_graph_error_names_file_line_and_fix(run_flow, write_flow, hw_env, command, source,
                                             message, fix):
    flow = write_flow(source)
    line = next(i for i, text in enumerate(flow.read_text().splitlines(), 1) if "# HERE" in text)
    proc = run_flow(flow, command, check=False)
    assert_clean_error(proc, f"Invalid flow: {flow}:{line}: {message}", f"Fix: {fix}")
    assert_nothing_stored(hw_env)


@pytest.mark.parametrize("args,env", [(["--debug", "check"], {}), (["check", "--debug"], {}),
                                      (["check"], {"HEADWATER_DEBUG": "1"})])
def test_debug_shows_the_traceback(run_flow, write_flow, args, env):
    proc = run_flow(write_flow(BROKEN_GRAPH), *args, env=env, check=False)
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert "headwater/graph.py" in proc.stderr
    assert "step 'middle' never calls self.next()" in proc.stderr


@pytest.mark.parametrize("args,fragments,code", [
    (["run", "--label", "x", "--nope", "1"], ["No such option '--nope'", "Try 'flow.py run --help'"], 2),
    (["run", "--label", "x", "--n", "abc"],
     ["Bad parameter: parameter --n expects an integer, got 'abc'", "Fix: pass e.g. --n 42"], 1),
    (["run"], ["Bad parameter: parameter --label is required", "Fix: pass --label VALUE"], 1),
    (["run", "--label"], ["Option '--label' requires an argument."], 2),
    (["runn"], ["No such command 'runn'"], 2),
])
def test_parameter_errors(run_flow, write_flow, hw_env, args, fragments, code):
    proc = run_flow(write_flow(GOOD), *args, check=False)
    assert_clean_error(proc, *fragments, code=code)
    assert_nothing_stored(hw_env)


def test_config_errors(run_flow, write_flow, hw_env, tmp_path):
    flow = write_flow(GOOD)
    missing = tmp_path / "missing.toml"
    proc = run_flow(flow, "run", "--label", "x", "--config-file", missing, check=False)
    assert_clean_error(proc, f"Configuration error: config file {missing} for config 'config' "
                             f"does not exist",
                       "Fix: create it or pass another file with --config config PATH")
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1,,}')
    proc = run_flow(flow, "--config", "config", bad, "run", "--label", "x", check=False)
    assert_clean_error(proc, f"Configuration error: config file {bad} cannot be parsed: ",
                       "Fix: fix the file's syntax (TOML or JSON)")
    proc = run_flow(flow, "check", "--config", "cfg", bad, check=False)
    assert_clean_error(proc, "Configuration error: GoodFlow has no config named 'cfg'",
                       "Fix: known configs: config")
    proc = run_flow(write_flow(TWO_CONFIGS, "two.py"), "check", "--config-file", bad,
                    check=False)
    assert_clean_error(proc, "--config-file needs a flow with exactly one Config (this one has: "
                             "train, serve)", "Fix: use --config NAME PATH")
    assert_nothing_stored(hw_env)


def test_decorator_errors(run_flow, write_flow, hw_env):
    proc = run_flow(write_flow(BAD_DECORATOR), "check", check=False)
    assert_clean_error(proc, "Bad decorator: @retry(times=-1) on step 'start': times must be "
                             "an integer from 0 to 4")
    flow = write_flow(GOOD)
    proc = run_flow(flow, "run", "--label", "x", "--with", "retyr", check=False)
    assert_clean_error(proc, "Bad decorator: unknown step decorator 'retyr'; known: ",
                       "Fix: use one of them")
    proc = run_flow(flow, "check", "--with", "timeout:seconds=0", check=False)
    assert_clean_error(proc, "Bad decorator: @timeout on step 'start' needs a positive duration")
    assert_nothing_stored(hw_env)


def test_project_name_is_checked(run_flow, write_flow):
    source = BAD_DECORATOR.replace("@retry(times=-1)", "@retry(times=1)")
    proc = run_flow(write_flow(source), "check", check=False)
    assert_clean_error(proc, "Bad decorator: @project(name='Bad Name') needs lowercase letters, "
                             "digits and underscores", "Fix: e.g. @project(name='fraud_model')")


def test_metaflow_top_options_without_a_headwater_use_are_accepted(run_flow, write_flow):
    # command lines written for Metaflow pass these (its pylint pass, event logger and
    # monitor sidecars); Headwater has nothing for them to change
    from headwater import Flow

    proc = run_flow(write_flow(GOOD), "--no-pylint", "--event-logger=nullSidecarLogger",
                    "--monitor", "nullSidecarMonitor", "--not-quiet", "run", "--label", "x",
                    "--pylint")
    assert "Done" in proc.stdout + proc.stderr
    assert Flow("GoodFlow").latest_run.successful
