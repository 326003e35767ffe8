"""What the deployers do not compile yet (a recursive switch, a ``num_parallel`` fan-out, an
``IncludeFile``) is refused in one line by ``argo-workflows create`` and ``step-functions
create``, instead of a definition that would misbehave in production."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import shared_env
from .test_step_functions import SFN_ENV

FLOWS = {
    "recursive switch": ("""
        from headwater import FlowSpec, step

        class TheFlow(FlowSpec):
            @step
            def start(self):
                self.n = 0
                self.next(self.again)

            @step
            def again(self):
                self.n += 1
                self.next({"yes": self.again, "no": self.end}, condition="more")

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            TheFlow()
    """, "step 'again' is a recursive switch (it goes back to 'again')"),
    "num_parallel": ("""
        from headwater import FlowSpec, parallel, step

        class TheFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.node, num_parallel=2)

            @parallel
            @step
            def node(self):
                self.next(self.join)

            @step
            def join(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            TheFlow()
    """, "step 'start' starts @parallel tasks (num_parallel=)"),
    "IncludeFile": ("""
        from headwater import FlowSpec, IncludeFile, step

        class TheFlow(FlowSpec):
            data = IncludeFile("data", default="data.csv")

            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            TheFlow()
    """, "parameter 'data' is an IncludeFile"),
}


@pytest.mark.parametrize("case", list(FLOWS))
@pytest.mark.parametrize("command,env,service", [
    ("argo-workflows", {}, "Argo Workflows"),
    ("step-functions", SFN_ENV, "Step Functions"),
])
def test_deployers_refuse_what_they_cannot_compile(case, command, env, service, flow_file):
    source, message = FLOWS[case]
    path = flow_file(source)
    (path.parent / "data.csv").write_text("a,b\n")
    full = dict(os.environ, **shared_env(**env))
    proc = subprocess.run([sys.executable, str(path), command, "create", "--only-json"],
                          env=full, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stdout
    assert f"{message}, which {service} deployments do not support yet" in proc.stderr
    assert "Traceback" not in proc.stderr
