"""Whether the test dependencies scripts/test would install are installed already.

scripts/test asks this before it runs pip or npm, so a second run starts the tests at once:

    python3 scripts/deps_stamp.py check-python   # 0: current; 1: install; 2: re-link checkout
    python3 scripts/deps_stamp.py record-python  # after a successful pip install
    python3 scripts/deps_stamp.py check-node     # 0: node_modules matches package-lock.json

Python: a stamp in the environment (``sys.prefix``) holds the digest of ``pyproject.toml`` and
``constraints.txt`` it was installed from and the checkout installed editable; the pins of
``constraints.txt`` are checked against the installed versions too, so a tool upgraded by hand
(``pip install -U pytest``) is put back. Node: every package of ``package-lock.json`` is in
``node_modules`` at the locked version.
"""

from __future__ import annotations

import hashlib
import json
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAMP = Path(sys.prefix) / "headwater-test-deps.json"
DECLARATIONS = ("pyproject.toml", "constraints.txt")

CURRENT, INSTALL, RELINK = 0, 1, 2


def declared_digest(root: Path = ROOT) -> str:
    digest = hashlib.sha256()
    for name in DECLARATIONS:
        digest.update((root / name).read_bytes())
    return digest.hexdigest()


def pins_installed(root: Path = ROOT) -> list[str]:
    """Pins of constraints.txt (for this Python) whose installed version differs."""
    try:
        from packaging.requirements import Requirement
    except ImportError:  # pytest brings packaging: without it nothing is installed yet
        return ["packaging"]
    wrong = []
    for line in (root / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        pin = Requirement(line)
        if pin.marker is not None and not pin.marker.evaluate():
            continue
        try:
            installed = metadata.version(pin.name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed is None or not pin.specifier.contains(installed, prereleases=True):
            wrong.append(f"{pin.name} {installed or 'missing'} (want {pin.specifier})")
    return wrong


def check_python(root: Path = ROOT) -> int:
    try:
        stamp = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return INSTALL
    if stamp.get("declared") != declared_digest(root) or pins_installed(root):
        return INSTALL
    return CURRENT if stamp.get("checkout") == str(root) else RELINK


def record_python(root: Path = ROOT) -> None:
    STAMP.write_text(json.dumps({"declared": declared_digest(root), "checkout": str(root)}))


def node_modules_match(root: Path = ROOT) -> bool:
    lock = json.loads((root / "package-lock.json").read_text())
    for path, entry in lock.get("packages", {}).items():
        if not path:  # the project itself
            continue
        try:
            version = json.loads((root / path / "package.json").read_text()).get("version")
        except (OSError, ValueError):
            version = None
        if version is None and entry.get("optional"):  # another platform's binary
            continue
        if version != entry.get("version"):
            return False
    return True


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) == 2 else ""
    if command == "check-python":
        return check_python()
    if command == "record-python":
        record_python()
        return 0
    if command == "check-node":
        return 0 if node_modules_match() else 1
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))
