"""``@pypi`` and ``@pypi_base``: run a step in an environment of PyPI packages.

``@pypi(packages={'six': '1.16.0'}, python='3.11')`` on a step, ``@pypi_base(...)`` on the
flow (its packages go into every step; a step's own pins win). The spec is resolved once
with uv (exact versions and wheel hashes), snapshotted in the datastore and built once per
lock on each machine; see ``headwater.environments`` and ``docs/environments.md``.
"""

from __future__ import annotations

from ..environments.declared import FlowEnvironmentDecorator, StepEnvironmentDecorator


class PypiDecorator(StepEnvironmentDecorator):
    """Run the step in an environment with ``packages`` (name -> version) from PyPI."""

    name = "pypi"
    kind = "pypi"
    defaults = {"packages": {}, "python": None}


class PypiBaseDecorator(FlowEnvironmentDecorator):
    """Give every step of the flow ``packages`` (name -> version) from PyPI."""

    name = "pypi_base"
    kind = "pypi"
    defaults = {"packages": {}, "python": None}
