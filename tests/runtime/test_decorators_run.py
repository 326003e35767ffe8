"""Step decorators in real runs: @retry, @catch, @timeout, @resources, @environment, --with."""

from __future__ import annotations

import pytest

from headwater import Flow

DECORATED = """
    import os, time
    from headwater import (FlowSpec, Parameter, catch, current, environment, resources, retry,
                           step, timeout)

    class DecoratedFlow(FlowSpec):
        hang = Parameter("hang", default=False)

        @retry(times=2, minutes_between_retries=0)
        @step
        def start(self):
            self.attempts_seen = current.retry_count
            if current.retry_count < 2:
                raise ConnectionError(f"flaky attempt {current.retry_count}")
            self.next(self.guarded)

        @catch(var="load_error", print_exception=False)
        @step
        def guarded(self):
            raise ValueError("always broken")
            self.next(self.crashy)

        @catch(var="crash_error")
        @step
        def crashy(self):
            os._exit(7)
            self.next(self.slow)

        @timeout(seconds=1)
        @catch(var="timeout_error")
        @step
        def slow(self):
            if self.hang:
                time.sleep(30)
                print("woke up")
            self.next(self.configured)

        @resources(cpu=2, memory=512)
        @environment(vars={"GREETING": "hello"})
        @step
        def configured(self):
            self.greeting = os.environ["GREETING"]
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        DecoratedFlow()
"""


def test_retry_catch_timeout_environment(run_flow, write_flow):
    flow = write_flow(DECORATED)
    proc = run_flow(flow, "run", "--hang", "true")
    run = Flow("DecoratedFlow").latest_run
    assert run.successful
    start = run["start"].task
    assert start.data.attempts_seen == 2 and start.current_attempt == 2
    assert "failed (attempt 1 of 3): ConnectionError: flaky attempt 0" in proc.stderr
    assert "ValueError" in str(run.data.load_error) and "always broken" in run.data.load_error.message
    assert "exited with code 7" in str(run.data.crash_error)
    assert "exceeded its @timeout of 1 s" in str(run.data.timeout_error)
    assert "woke up" not in run["slow"].task.stdout  # the 30 s sleep was cut short
    assert run.data.greeting == "hello"


def test_retry_exhausted_fails_the_run(run_flow, write_flow):
    flow = write_flow("""
        from headwater import FlowSpec, retry, step

        class AlwaysFailsFlow(FlowSpec):
            @retry(times=1, minutes_between_retries=0)
            @step
            def start(self):
                raise RuntimeError("nope")
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            AlwaysFailsFlow()
    """)
    proc = run_flow(flow, "run", check=False)
    assert proc.returncode == 1
    assert proc.stderr.count("RuntimeError: nope") >= 2
    task = Flow("AlwaysFailsFlow").latest_run["start"].task
    assert task.current_attempt == 1 and not task.successful


def test_with_adds_a_decorator_to_every_step(run_flow, write_flow):
    flow = write_flow("""
        from headwater import FlowSpec, current, step

        class WithFlow(FlowSpec):
            @step
            def start(self):
                if current.retry_count == 0:
                    raise RuntimeError("first try fails")
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            WithFlow()
    """)
    assert run_flow(flow, "run", check=False).returncode == 1
    run_flow(flow, "run", "--with", "retry:times=1,minutes_between_retries=0")
    run_flow(flow, "--with", "retry:times=1,minutes_between_retries=0", "run")
    proc = run_flow(flow, "run", "--with", "nosuch", check=False)
    assert proc.returncode == 1 and "unknown step decorator 'nosuch'" in proc.stderr
    proc = run_flow(flow, "run", "--with", "retry:tims=1", check=False)
    assert "unknown argument(s) tims" in proc.stderr


@pytest.mark.parametrize("arguments,env,branch,production", [
    ("name='fraud_model'", {}, "user.tester", False),
    ("name='fraud_model', production=True", {}, "prod", True),
    # Metaflow's --branch / --production as the variables its command line reads
    ("name='fraud_model'", {"METAFLOW_BRANCH": "exp"}, "test.exp", False),
    ("name='fraud_model'", {"METAFLOW_PRODUCTION": "True"}, "prod", True),
    ("name='fraud_model', branch='mine'", {"METAFLOW_BRANCH": "exp"}, "test.mine", False),
])
def test_project_is_visible_in_current(run_flow, write_flow, arguments, env, branch,
                                       production):
    flow = write_flow(f"""
        from headwater import FlowSpec, current, project, step

        @project({arguments})
        class ProjFlow(FlowSpec):
            @step
            def start(self):
                print("project", current.project_name, current.branch_name,
                      current.project_flow_name, current.is_production, current.is_user_branch)
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            ProjFlow()
    """)
    proc = run_flow(flow, "run", env=env)
    line = next(line for line in proc.stdout.splitlines() if "project " in line)
    assert line.split("] ", 1)[1].split() == [
        "project", "fraud_model", branch, f"fraud_model.{branch}.ProjFlow", str(production),
        str(branch.startswith("user."))]
    run = Flow("ProjFlow").latest_run
    assert {"project:fraud_model", f"project_branch:{branch}"} <= run.system_tags
