"""Namespaces: which runs the Client API sees.

A run belongs to every namespace named by one of its tags: ``user:<name>`` for the user who
started it, plus a shared namespace when one was set (``METAFLOW_USER_NAMESPACE``,
``--namespace``, or ``@namespace("...")`` on the flow class). The client reads the default
namespace (``METAFLOW_USER_NAMESPACE`` if set, else ``user:<you>``) until ``namespace(...)``
picks another; ``namespace(None)`` sees every run.

``namespace`` works three ways::

    namespace("production")             # from now on
    with namespace("production"): ...   # inside the block only
    @namespace("ml-experiments")        # on a FlowSpec class: runs of this flow are tagged
    class ExperimentFlow(FlowSpec): ... # with it; the client's namespace is left alone
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from ..exceptions import ConfigurationError

if TYPE_CHECKING:
    from ..flowspec import FlowSpec

F = TypeVar("F", bound="type[FlowSpec]")

_UNSET = object()
# The namespace chosen with namespace(...), or _UNSET for "the default, from settings".
_current: Any = _UNSET


def default_namespace() -> str:
    """Go back to the default namespace and return it: ``METAFLOW_USER_NAMESPACE`` if set,
    else ``user:<username>``."""
    global _current
    _current = _UNSET
    return _default()


def _default() -> str:
    from ._services import services

    settings = services().settings
    return settings.namespace or f"user:{settings.user}"


def get_namespace() -> str | None:
    """The namespace the Client API reads (``None``: every namespace)."""
    return _default() if _current is _UNSET else _current


def _check(ns: Any) -> str | None:
    if ns is None:
        return None
    if not isinstance(ns, str) or not ns.strip():
        raise ConfigurationError(
            f"namespace must be a non-empty string or None, not {ns!r}",
            "pass a tag such as namespace('user:alice') or namespace('production'), "
            "or namespace(None) to see every run")
    return ns


class namespace:  # noqa: N801 - lower case: it is used as a function and a decorator
    """Switch the Client API to namespace ``ns`` (``None`` for every namespace).

    The switch happens at the call; as a context manager the previous namespace comes back
    at the end of the block. Used as a class decorator on a flow, it records ``ns`` as the
    flow's namespace (``cls._flow_namespace``) and leaves the client's namespace unchanged.
    """

    def __init__(self, ns: str | None):
        global _current
        self.namespace = _check(ns)
        self._previous = _current
        _current = self.namespace

    def __enter__(self) -> str | None:
        return self.namespace

    def __exit__(self, *exc: Any) -> None:
        global _current
        _current = self._previous

    def __call__(self, cls: F) -> F:
        global _current
        # Decorator form: `@namespace("x")` ran __init__ first; undo that switch.
        if _current is self.namespace:
            _current = self._previous
        if not isinstance(cls, type):
            raise ConfigurationError(
                f"@namespace({self.namespace!r}) decorates a flow class, not {cls!r}",
                "put it on the class line: @namespace('...') above class MyFlow(FlowSpec)")
        if self.namespace is None:
            raise ConfigurationError(
                f"@namespace(None) on {cls.__name__} has no effect",
                "give the flow's shared namespace, e.g. @namespace('ml-experiments')")
        cls._flow_namespace = self.namespace
        return cls

    def __eq__(self, other: object) -> bool:
        # Metaflow's namespace() returns the namespace itself; keep comparisons working.
        if isinstance(other, namespace):
            return self.namespace == other.namespace
        return self.namespace == other

    def __hash__(self) -> int:
        return hash(self.namespace)

    def __repr__(self) -> str:
        return f"namespace({self.namespace!r})"
