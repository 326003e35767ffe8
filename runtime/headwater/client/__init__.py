"""The Client API: read flows, runs, steps, tasks and artifacts after (or while) they run.

    from headwater import Flow, namespace
    run = Flow("HelloFlow").latest_run
    run.successful, run.data.processed_data, run["start"].task.stdout
    with namespace(None):                  # every user's runs
        runs = Flow("HelloFlow").runs("baseline")

Reads go through the metadata provider and datastore the settings select (local files, or
the metadata service and blob storage in shared mode); artifacts load only when read.
"""

from ._services import get_metadata
from .artifact import DataArtifact
from .flow import Flow, Metaflow
from .namespaces import default_namespace, get_namespace, namespace
from .run import Run
from .step import Step
from .task import Metadata, MetaflowArtifacts, MetaflowData, Task

__all__ = [
    "DataArtifact", "Flow", "Metadata", "Metaflow", "MetaflowArtifacts", "MetaflowData", "Run",
    "Step", "Task", "default_namespace", "get_metadata", "get_namespace", "namespace",
]
