"""``@conda``: conda environments with micromamba or conda.

A conda spec needs one of the two tools, found on PATH or named by ``HEADWATER_CONDA_EXE``.
Where neither exists the run stops before it starts, saying so, and when every library of
the spec is a name PyPI could provide it says how to switch the step to ``@pypi``.

Resolution and building with the tool follow the ``@pypi`` rules (one resolution per spec,
lock of exact builds, snapshot of the package files, build from the snapshot offline); on
machines without either tool (like the one this was written on) that path cannot run, so
it refuses instead of pretending.
"""

from __future__ import annotations

import os
import shutil

from .errors import ToolMissing
from .spec import EnvironmentSpec

TOOLS = ("micromamba", "conda")
# Conda-only names with no PyPI distribution of the same name (the switch hint skips them).
CONDA_ONLY = {"python", "cudatoolkit", "libgcc-ng", "libstdcxx-ng", "mkl", "openssl", "r-base"}


def find_conda_tool() -> str | None:
    """The micromamba or conda executable, if one is installed."""
    configured = os.environ.get("HEADWATER_CONDA_EXE")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for tool in TOOLS:
        found = shutil.which(tool)
        if found:
            return found
    return None


def conda_backend(spec: EnvironmentSpec) -> str:
    """The tool that builds ``spec``, or ``ToolMissing`` with the way out."""
    tool = find_conda_tool()
    if tool is not None:
        raise ToolMissing(f"@conda found {tool}, but building conda environments with it is "
                          f"not supported by this headwater yet",
                          _switch_hint(spec))
    raise ToolMissing("@conda needs micromamba or conda, and neither is installed (PATH, "
                      "HEADWATER_CONDA_EXE)", _switch_hint(spec))


def _switch_hint(spec: EnvironmentSpec) -> str:
    names = [name for name, _ in spec.packages]
    if names and not set(names) & CONDA_ONLY:
        pins = ", ".join(f"'{n}': '{v[2:] if v.startswith('==') else v}'"
                         for n, v in spec.packages)
        return (f"these libraries are on PyPI too: use @pypi(packages={{{pins}}}"
                f"{', python=' + repr(spec.python)}) instead, or install micromamba")
    return "install micromamba (https://mamba.readthedocs.io) and put it on PATH"
