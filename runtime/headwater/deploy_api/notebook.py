"""``NBDeployer``: deploying a flow class defined in a notebook cell, as Metaflow's."""

from __future__ import annotations

import contextlib
import os
from typing import Any

from ..runner import write_flow_file
from .base import Deployer


class NBDeployer(Deployer):
    """A ``Deployer`` for a flow class defined in a notebook (or any module): its source is
    written to ``<base_dir>/<flowname>.py`` (default: a new temporary folder, so the code
    package holds that file alone) and deployed from there.

    ``NBDeployer(FlowClass, **same as Deployer).argo_workflows().create(...)``.
    """

    def __init__(self, flow: type, show_output: bool = True, profile: str | None = None,
                 env: dict[str, str] | None = None, base_dir: str | None = None,
                 file_read_timeout: int = 3600, **options: Any):
        super().__init__(write_flow_file(flow, base_dir), show_output=show_output,
                         profile=profile, env=env, file_read_timeout=file_read_timeout,
                         **options)

    def cleanup(self) -> None:
        """Remove the flow file written for this deployer (a deployment made from it stays)."""
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.flow_file)
