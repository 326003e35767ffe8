"""``@conda`` and ``@conda_base``: run a step in an environment of conda packages.

``@conda(libraries={'six': '1.16.0'}, channels=['conda-forge'], python='3.11')``. Same
semantics as ``@pypi`` (resolved once, snapshotted, built once per lock), resolved and
built with ``micromamba``, ``conda`` or py-rattler; see ``headwater.environments.conda``.
``channels`` default to ``HEADWATER_CONDA_CHANNELS`` (else ``conda-forge``).
"""

from __future__ import annotations

from ..environments.declared import FlowEnvironmentDecorator, StepEnvironmentDecorator


class CondaDecorator(StepEnvironmentDecorator):
    """Run the step in an environment with ``libraries`` (name -> version) from conda."""

    name = "conda"
    kind = "conda"
    packages_field = "libraries"
    defaults = {"libraries": {}, "packages": {}, "python": None, "channels": []}

    def packages(self) -> dict[str, str]:
        return {k: str(v) for k, v in {**self.attributes["packages"],
                                       **self.attributes["libraries"]}.items()}


class CondaBaseDecorator(FlowEnvironmentDecorator):
    """Give every step of the flow ``libraries`` (name -> version) from conda."""

    name = "conda_base"
    kind = "conda"
    packages_field = "libraries"
    defaults = {"libraries": {}, "packages": {}, "python": None, "channels": []}

    def packages(self) -> dict[str, str]:
        return {k: str(v) for k, v in {**self.attributes["packages"],
                                       **self.attributes["libraries"]}.items()}
