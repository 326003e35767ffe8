"""``@conda``: conda environments, resolved and built by one of the registered backends.

    micromamba   the ``micromamba`` executable (PATH, or ``HEADWATER_CONDA_EXE``)
    conda        the ``conda`` executable (PATH, or ``HEADWATER_CONDA_EXE``)
    rattler      py-rattler, a conda solver and installer as a wheel (``headwater[conda]``)

``HEADWATER_CONDA_BACKEND`` names one; otherwise the first available in that order. A lock
records the backend that resolved it and is always built by that one. Where none is
available the run stops before it starts, saying so, and when every library of the spec is
a name PyPI could provide it says how to switch the step to ``@pypi``.
"""

from __future__ import annotations

import os

from ...registry import load, lookup
from ..errors import ToolMissing
from ..spec import EnvironmentSpec
from .base import CondaBackend

BACKENDS: dict[str, str] = {
    "micromamba": "headwater.environments.conda.cli:Micromamba",
    "conda": "headwater.environments.conda.cli:CondaCli",
    "rattler": "headwater.environments.conda.py_rattler:RattlerBackend",
}
BACKEND_VARIABLE = "HEADWATER_CONDA_BACKEND"
# Conda-only names with no PyPI distribution of the same name (the switch hint skips them).
CONDA_ONLY = {"python", "cudatoolkit", "libgcc-ng", "libstdcxx-ng", "mkl", "openssl", "r-base"}


def backend_named(name: str, spec: EnvironmentSpec | None = None) -> CondaBackend:
    """The backend registered as ``name``, or ``ToolMissing`` when it cannot run here."""
    cls = lookup(BACKENDS, name, "conda backend",
                 f"set {BACKEND_VARIABLE} to one of them, or unset it")
    if not cls.available():
        raise ToolMissing(f"the conda backend {name!r} is not installed here",
                          _install_hint(name, spec))
    return cls()


def find_backend(spec: EnvironmentSpec) -> CondaBackend:
    """The backend that resolves ``spec``: the configured one, else the first available."""
    configured = os.environ.get(BACKEND_VARIABLE, "").strip()
    if configured:
        return backend_named(configured, spec)
    for target in BACKENDS.values():
        cls = load(target)
        if cls.available():
            return cls()
    raise ToolMissing("@conda needs micromamba, conda or py-rattler, and none is installed "
                      "(PATH, HEADWATER_CONDA_EXE, headwater[conda])", _switch_hint(spec))


def _install_hint(name: str, spec: EnvironmentSpec | None) -> str:
    install = ("pip install 'headwater[conda]'" if name == "rattler" else
               f"install {name} and put it on PATH (or set HEADWATER_CONDA_EXE)")
    switch = _pypi_hint(spec) if spec is not None else None
    return f"{install}, or unset {BACKEND_VARIABLE}" + (f"; or {switch}" if switch else "")


def _switch_hint(spec: EnvironmentSpec) -> str:
    switch = _pypi_hint(spec)
    install = "pip install 'headwater[conda]' (or put micromamba on PATH)"
    return f"{switch}, or {install}" if switch else install


def _pypi_hint(spec: EnvironmentSpec) -> str | None:
    """How to write the spec as ``@pypi``, when every library could be a PyPI name."""
    names = [name for name, _ in spec.packages]
    if not names or set(names) & CONDA_ONLY:
        return None
    pins = ", ".join(f"'{n}': '{v[2:] if v.startswith('==') else v}'" for n, v in spec.packages)
    return (f"these libraries are on PyPI too: use @pypi(packages={{{pins}}}, "
            f"python={spec.python!r}) instead")
