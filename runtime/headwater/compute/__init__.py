"""Compute backends: where task attempts run.

One module per backend, each a ``Compute`` subclass (see ``base.py``); the registry below
names them. A step picks its backend through a decorator (``@kubernetes``, ``@batch``);
steps without one run in local processes.
"""

from __future__ import annotations

COMPUTE_BACKENDS: dict[str, str] = {
    "local": "headwater.compute.local:LocalCompute",
    "kubernetes": "headwater.compute.kubernetes:KubernetesCompute",
    "batch": "headwater.compute.batch:BatchCompute",
}
