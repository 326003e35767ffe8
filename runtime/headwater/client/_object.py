"""What Flow, Run, Step, Task and DataArtifact share: a pathspec, a record, tags, children.

An object is one record of the metadata provider (the dict shapes of
``headwater.metadata.base``), addressed by a pathspec ``Flow/run/step/task/artifact``. It
remembers the services it was read from and the namespace that was current when it (or its
parent) was created: ``with namespace("prod"): flow = Flow("F")`` lists prod's runs later.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Iterator, TypeVar

from ..exceptions import InvalidPathspec, NamespaceMismatch, ObjectNotFound, ObjectNotFoundByKey
from ._services import Services, services
from .namespaces import get_namespace

if TYPE_CHECKING:
    from ..metadata.base import MetadataProvider

C = TypeVar("C")


def parse_pathspec(pathspec: Any, depth: int, kind: str, form: str) -> list[str]:
    """Split ``pathspec`` into exactly ``depth`` non-empty components."""
    if not isinstance(pathspec, str):
        raise InvalidPathspec(f"{kind} needs a pathspec string {form!r}, not {pathspec!r}",
                              f"e.g. {kind}({_example(depth)!r})")
    parts = pathspec.split("/")
    if len(parts) != depth or not all(p.strip() for p in parts):
        raise InvalidPathspec(f"{pathspec!r} is not a {kind} pathspec of the form {form!r}",
                              f"e.g. {kind}({_example(depth)!r})")
    return parts


def _example(depth: int) -> str:
    return "/".join(["MyFlow", "12", "start", "3", "model"][:depth])


def to_datetime(ms: Any) -> datetime | None:
    """A provider timestamp (milliseconds since the epoch) as a local ``datetime``."""
    if ms is None:
        return None
    return datetime.fromtimestamp(int(ms) / 1000.0)


class MetaflowObject(Generic[C]):
    """Base of the Client API objects (``C``: the type of their children). Subclasses set the
    class attributes below."""

    _NAME = ""  # "flow", "run", ...: used in messages
    _DEPTH = 0  # components in the pathspec
    _FORM = ""  # the pathspec's form, for messages

    def __init__(self, pathspec: str | None = None, *, _object: dict | None = None,
                 _parent: "MetaflowObject[Any] | None" = None, _namespace_check: bool = True):
        self._services: Services = _parent._services if _parent is not None else services()
        self._namespace: str | None = (_parent._namespace if _parent is not None
                                       else get_namespace())
        self._parent = _parent
        if _object is None:
            self._components = parse_pathspec(pathspec, self._DEPTH, type(self).__name__,
                                              self._FORM)
            _object = self._fetch(self._components)
        else:
            self._components = self._components_of(_object, _parent)
        self._object = _object
        if _namespace_check and not self.is_in_namespace():
            self._raise_mismatch()

    # --- subclasses implement --------------------------------------------------------

    def _fetch(self, components: list[str]) -> dict:
        """Read this object's record; raise ``ObjectNotFound`` when there is none."""
        raise NotImplementedError

    def _components_of(self, obj: dict, parent: "MetaflowObject[Any] | None") -> list[str]:
        raise NotImplementedError

    def _children(self) -> list[C]:
        """Child objects, in the provider's order."""
        raise NotImplementedError

    def _child(self, child_id: str) -> C:
        """One child by id; raises ``ObjectNotFound``."""
        raise NotImplementedError

    # --- identity ----------------------------------------------------------------------

    @property
    def _provider(self) -> "MetadataProvider":
        return self._services.provider

    @property
    def pathspec(self) -> str:
        """``Flow/run/step/task[/artifact]`` of this object."""
        return "/".join(self._components)

    @property
    def path_components(self) -> list[str]:
        """The pathspec split into its parts."""
        return list(self._components)

    @property
    def id(self) -> str:
        """This object's own id: the last part of its pathspec."""
        return self._components[-1]

    @property
    def parent(self) -> "MetaflowObject[Any] | None":
        """The object one level up (``None`` for a flow)."""
        if self._parent is None and self._DEPTH > 1:
            self._parent = self._parent_class()("/".join(self._components[:-1]),
                                                _namespace_check=False)
        return self._parent

    def _parent_class(self) -> type["MetaflowObject[Any]"]:
        raise NotImplementedError

    # --- tags and time -----------------------------------------------------------------

    @property
    def user_tags(self) -> frozenset[str]:
        """Tags users added (``--tag``, ``Run.add_tag``)."""
        return frozenset(self._object.get("tags") or ())

    @property
    def system_tags(self) -> frozenset[str]:
        """Tags the runtime set: ``user:<name>``, ``runtime:dev``, versions, namespace."""
        return frozenset(self._object.get("system_tags") or ())

    @property
    def tags(self) -> frozenset[str]:
        """User and system tags together."""
        return self.user_tags | self.system_tags

    @property
    def created_at(self) -> datetime | None:
        """When the object was recorded."""
        return to_datetime(self._object.get("ts_epoch"))

    @property
    def user(self) -> str | None:
        """The user who created the object."""
        return self._object.get("user_name")

    # --- namespaces --------------------------------------------------------------------

    def is_in_namespace(self) -> bool:
        """Whether the object carries the namespace this object reads (always, for None)."""
        return self._namespace is None or self._namespace in self.tags

    def _raise_mismatch(self) -> None:
        owners = sorted(t for t in self.system_tags if t.startswith("user:"))
        owner = f" (it was started by {', '.join(owners)})" if owners else ""
        raise NamespaceMismatch(
            f"{self._NAME} {self.pathspec} is not in the current namespace "
            f"{self._namespace!r}{owner}",
            "read every namespace with namespace(None), or switch with "
            "namespace('<tag of the run>')")

    # --- children ----------------------------------------------------------------------

    def __iter__(self) -> Iterator[C]:
        return iter(self._children())

    def __getitem__(self, child_id: Any) -> C:
        try:
            return self._child(str(child_id))
        except NamespaceMismatch:
            raise  # the child exists: not a missing key
        except ObjectNotFound as exc:
            raise ObjectNotFoundByKey(exc.message, exc.fix) from None

    def __contains__(self, child_id: Any) -> bool:
        try:
            self._child(str(child_id))
        except ObjectNotFound:  # includes NamespaceMismatch: not visible here
            return False
        return True

    # --- Python protocol ---------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MetaflowObject) and type(other) is type(self) \
            and other.pathspec == self.pathspec

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.pathspec))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.pathspec!r})"

    __str__ = __repr__


def listing(ids: list[str], limit: int = 10) -> str:
    """``a, b, c, ...``: a few ids for an error message."""
    return ", ".join(ids[:limit]) + (", ..." if len(ids) > limit else "")
