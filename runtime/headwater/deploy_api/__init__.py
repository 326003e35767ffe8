"""Deploying flows from Python (``from headwater import Deployer``), with Metaflow's API.

``base.py`` holds the facade (``Deployer``, ``DeployedFlow``, ``TriggeredRun``); each
scheduler's implementation is one module (``argo_workflows.py``, ``step_functions.py``)
over that scheduler's compiler and client in ``headwater.deployers``; ``notebook.py`` holds
``NBDeployer`` (a flow class from a notebook cell).
"""

from .base import DeployedFlow, Deployer, DeployerError, DeployerType, TriggeredRun
from .notebook import NBDeployer

__all__ = ["DeployedFlow", "Deployer", "DeployerError", "DeployerType", "NBDeployer",
           "TriggeredRun"]
