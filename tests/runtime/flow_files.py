"""Flows written inline in unit tests, imported from real files.

The graph parser reads step sources with ``inspect``, so a flow must live in a file; writing
it out also lets a test know the exact line an error should point at (``line_of``).
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
import textwrap
from pathlib import Path
from types import ModuleType

_counter = itertools.count()


def import_flow_module(directory: Path, source: str) -> ModuleType:
    """Write ``source`` (dedented) to a new file in ``directory`` and import it."""
    name = f"hw_test_flow_{next(_counter)}"
    path = Path(directory) / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return _import(name, path)


def import_flow_file(path: Path) -> ModuleType:
    """Import a flow file (its ``__main__`` block does not run) under a new module name."""
    return _import(f"hw_test_flow_{next(_counter)}", Path(path))


def _import(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # inspect finds a class's file through sys.modules
    spec.loader.exec_module(module)
    return module


def line_of(module: ModuleType, marker: str) -> int:
    """The 1-based line of the only line in the module's file that contains ``marker``."""
    lines = Path(module.__file__).read_text().splitlines()
    found = [i + 1 for i, line in enumerate(lines) if marker in line]
    assert len(found) == 1, f"marker {marker!r} found on lines {found}"
    return found[0]
