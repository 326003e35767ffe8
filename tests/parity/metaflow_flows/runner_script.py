"""Runs a flow with Metaflow's Runner API and reads its timed log lines, and reaches the
Deployer's names, with ``from metaflow import ...`` only; prints what it found as JSON."""

import json
import textwrap
from datetime import datetime

from metaflow import DeployedFlow, Deployer, Runner

with open("printing_flow.py", "w") as f:
    f.write(textwrap.dedent('''
        from metaflow import FlowSpec, Parameter, step

        class MfPrintingFlow(FlowSpec):
            times = Parameter("times", default=1)

            @step
            def start(self):
                for i in range(self.times):
                    print("line", i)
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            MfPrintingFlow()
    '''))

with Runner("printing_flow.py", show_output=False).run(times=3) as running:
    run = running.run
    lines = list(run["start"].task.loglines("stdout"))
    out = {"status": running.status, "successful": run.successful,
           "lines": [line for _, line in lines],
           "timed": all(isinstance(ts, datetime) for ts, _ in lines)}

deployer = Deployer("printing_flow.py")
out["deployers"] = [callable(getattr(deployer, n, None))
                    for n in ("argo_workflows", "step_functions")]
out["lookups"] = [callable(getattr(DeployedFlow, n, None)) for n in (
    "from_deployment", "get_triggered_run", "list_deployed_flows", "from_argo_workflows",
    "from_step_functions")]
print(json.dumps(out))
