"""``Metaflow()`` (every flow) and ``Flow(name)`` (the runs of one flow).

    Flow("HelloFlow").latest_run.data.processed_data
    [run.id for run in Flow("HelloFlow").runs("experiment")]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from ..exceptions import ObjectNotFound
from ._object import MetaflowObject, listing
from ._services import services
from .namespaces import get_namespace

if TYPE_CHECKING:
    from .run import Run


class Metaflow:
    """Every flow that has a run in the current namespace (every flow for ``None``)."""

    @property
    def flows(self) -> list["Flow"]:
        """The flows, in name order."""
        flows = sorted((Flow(_object=obj) for obj in services().provider.get_flows()),
                       key=lambda flow: flow.id)
        if get_namespace() is None:
            return flows
        return [flow for flow in flows if flow._children()]

    def __iter__(self) -> Iterator["Flow"]:
        return iter(self.flows)

    def __repr__(self) -> str:
        return "Metaflow()"


class Flow(MetaflowObject["Run"]):
    """A flow: its runs, newest first. ``flow["12"]`` is run 12.

    A flow belongs to no namespace itself; its runs do, and only runs in the current
    namespace are listed (``namespace(None)`` lists them all).
    """

    _NAME = "flow"
    _DEPTH = 1
    _FORM = "FlowName"

    def __init__(self, name: str | None = None, *, _object: dict | None = None,
                 _namespace_check: bool = False):
        # A flow has no tags of its own: it is never out of the namespace, its runs may be.
        super().__init__(name, _object=_object, _namespace_check=False)

    def _fetch(self, components: list[str]) -> dict:
        name = components[0]
        flow = self._provider.get_flow(name)
        if flow is None:
            known = [f["flow_id"] for f in self._provider.get_flows()]
            raise ObjectNotFound(
                f"flow {name!r} does not exist in {self._provider.describe()}",
                f"known flows: {listing(known)}" if known else
                "no flow has run there yet: run one (python flow.py run), or point "
                "METAFLOW_DATASTORE_SYSROOT_LOCAL or your profile at the folder or service "
                "that holds the runs")
        return flow

    def _components_of(self, obj: dict, parent) -> list[str]:
        return [obj["flow_id"]]

    def _all_runs(self) -> list["Run"]:
        from .run import Run

        return [Run(_object=obj, _parent=self, _namespace_check=False)
                for obj in self._provider.get_runs(self.id)]

    def _children(self) -> list["Run"]:
        return [run for run in self._all_runs() if run.is_in_namespace()]

    def _child(self, run_id: str) -> "Run":
        from .run import Run

        obj = self._provider.get_run(self.id, run_id)
        if obj is None:
            known = [run.id for run in self._children()]
            raise ObjectNotFound(
                f"run {self.id}/{run_id} does not exist in {self._provider.describe()}",
                f"runs of {self.id} in namespace {self._namespace!r}: {listing(known)}" if known
                else f"{self.id} has no run in namespace {self._namespace!r}; "
                     f"namespace(None) shows every run")
        return Run(_object=obj, _parent=self)

    # --- runs --------------------------------------------------------------------------

    def runs(self, *tags: str) -> list["Run"]:
        """Runs in the current namespace that have every tag in ``tags``, newest first."""
        wanted = set(tags)
        return [run for run in self._children() if wanted <= run.tags]

    @property
    def latest_run(self) -> "Run | None":
        """The newest run in the current namespace, finished or not (``None`` if none)."""
        runs = self._children()
        return runs[0] if runs else None

    @property
    def latest_successful_run(self) -> "Run | None":
        """The newest run in the current namespace whose end step succeeded."""
        return next((run for run in self._children() if run.successful), None)
