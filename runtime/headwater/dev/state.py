"""Where the dev stack keeps everything (``--dir``, default ``~/.headwater/dev``) and the
state file that records what is running (``state.json``: cloud, ports, pids).

Layout::

    state.json                 what runs: pid and port per component (mode 0600)
    logs/<component>.log       each server's output
    postgres/data/             the pgserver database cluster (unless --database-url)
    service/api-key            the service's generated API key (0600)
    azurite/data/              Azurite's blobs            (--cloud azure)
    azurite/connection-string  Azurite's connection string (0600)
    npm/                       the Azurite install, made once
    moto/recording.jsonl       every request moto served, replayed on the next up (--cloud aws)
    aws/config                 an AWS config file: moto's dummy credentials and endpoints
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path

from ..atomic import write_atomic
from .errors import DevStackError

DEFAULT_DIR = Path("~/.headwater/dev")
STATE_FILE = "state.json"


class Cloud(str, Enum):
    """Which cloud's storage the stack emulates."""

    AZURE = "azure"
    AWS = "aws"


class Component(str, Enum):
    """The servers of the stack, in start order."""

    POSTGRES = "postgres"
    SERVICE = "service"
    AZURITE = "azurite"
    MOTO = "moto"


@dataclass
class ProcessRecord:
    """One running server."""

    pid: int
    port: int


@dataclass
class StackState:
    """What ``up`` started; saved after each component so a failed or interrupted ``up``
    still leaves a record ``down`` can act on."""

    cloud: str
    port: int
    database_url: str | None = None  # given with --database-url (else pgserver's)
    processes: dict[str, ProcessRecord] = field(default_factory=dict)

    @property
    def external_database(self) -> bool:
        return Component.POSTGRES.value not in self.processes and self.database_url is not None


class StackDir:
    """Paths inside one stack folder."""

    def __init__(self, root: Path):
        self.root = Path(root).expanduser().absolute()

    def log(self, component: Component | str) -> Path:
        return self.root / "logs" / f"{Component(component).value}.log"

    def data(self, component: Component | str) -> Path:
        """The folder of a component's data (what ``status`` sizes)."""
        name = Component(component).value
        return {"postgres": self.root / "postgres", "service": self.root / "service",
                "azurite": self.root / "azurite" / "data",
                "moto": self.root / "moto"}[name]

    @property
    def state_path(self) -> Path:
        return self.root / STATE_FILE

    @property
    def api_key_path(self) -> Path:
        return self.root / "service" / "api-key"

    @property
    def connection_string_path(self) -> Path:
        return self.root / "azurite" / "connection-string"

    @property
    def aws_config_path(self) -> Path:
        return self.root / "aws" / "config"

    @property
    def npm_prefix(self) -> Path:
        return self.root / "npm"

    def load(self) -> StackState | None:
        try:
            raw = json.loads(self.state_path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise DevStackError(f"cannot read {self.state_path}: {exc}",
                                "stop the servers it lists by hand and delete the file") from None
        processes = {name: ProcessRecord(**rec) for name, rec in raw.get("processes", {}).items()}
        return StackState(cloud=raw["cloud"], port=int(raw["port"]),
                          database_url=raw.get("database_url"), processes=processes)

    def save(self, state: StackState) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private(self.state_path, json.dumps(asdict(state), indent=2) + "\n")

    def forget(self) -> None:
        try:
            self.state_path.unlink()
        except FileNotFoundError:
            pass


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only (0600), atomically."""
    write_atomic(path, text, permissions=0o600)
