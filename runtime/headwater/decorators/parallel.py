"""``@parallel``: a gang of tasks of one step, started by ``self.next(x, num_parallel=N)``.

    @step
    def start(self):
        self.next(self.train, num_parallel=4)

    @parallel
    @step
    def train(self):
        print(current.parallel.node_index, current.parallel.num_nodes, current.parallel.main_ip)
        self.next(self.join)

Locally the N tasks are N processes on this machine, started together like a foreach's
(``--max-workers`` must be at least N for all of them to run at the same time); node 0's
address is ``127.0.0.1``. Each task also sees ``MF_PARALLEL_NODE_INDEX``,
``MF_PARALLEL_NUM_NODES`` and ``MF_PARALLEL_MAIN_IP``, as in Metaflow.
"""

from __future__ import annotations

import os
from collections import namedtuple

from ..current import current
from .base import DecoratorError, SpinUse, StepDecorator

#: ``current.parallel`` (Metaflow's fields; ``control_task_id`` is None locally).
Parallel = namedtuple("Parallel", ["main_ip", "num_nodes", "node_index", "control_task_id"])

LOCAL_MAIN_IP = "127.0.0.1"


class ParallelDecorator(StepDecorator):
    """Mark a step as the gang a ``num_parallel=`` fan-out starts."""

    name = "parallel"
    spin_use = SpinUse.REFUSED
    defaults: dict = {}

    def step_init(self, flow_cls, graph, step_name):
        parents = graph[step_name].in_funcs
        if not parents or not all(graph[p].parallel for p in parents):
            raise DecoratorError(
                f"@parallel step {step_name!r} is not started with num_parallel=",
                f"in the step before it write self.next(self.{step_name}, num_parallel=N)")

    def task_pre_step(self, flow, ctx):
        frame = next(f for f in reversed(ctx.spec.stack) if f.kind == "foreach")
        info = Parallel(LOCAL_MAIN_IP, frame.count, frame.index, None)
        current._set_extra("parallel", info)
        os.environ.update({"MF_PARALLEL_NODE_INDEX": str(info.node_index),
                           "MF_PARALLEL_NUM_NODES": str(info.num_nodes),
                           "MF_PARALLEL_MAIN_IP": info.main_ip})

    def task_finished(self, flow, ctx, ok):
        current._del_extra("parallel")
