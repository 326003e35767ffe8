"""``FlowSpec`` and ``@step``: how a flow is written.

    class HelloFlow(FlowSpec):
        @step
        def start(self):
            self.greeting = "hi"          # every attribute set on self is an artifact
            self.next(self.end)

        @step
        def end(self):
            print(self.greeting)

    if __name__ == "__main__":
        HelloFlow()                        # runs the command line: python hello.py run

A flow class instantiated anywhere else (``flow = HelloFlow()`` in a unit test) is a plain
object: parameters read as their defaults and may be assigned, steps are ordinary methods,
``self.next(...)`` only records the transition, and ``current`` is usable.
"""

from __future__ import annotations

import collections
import functools
import inspect
import types
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from .exceptions import FlowAttributeNotModifiable, InvalidNextError, MergeArtifactsError
from .graph import SplitKind

if TYPE_CHECKING:
    from .datastore.artifacts import ArtifactInfo, ContentAddressedStore
    from .graph_view import MetaflowGraphView


def step(func: Callable) -> Callable:
    """Mark a method as a step of the flow."""
    if not callable(func) or not hasattr(func, "__code__"):
        raise TypeError(f"@step decorates a method, not {func!r}")
    func.__dict__["is_step"] = True
    func.__dict__["name"] = func.__name__  # Metaflow's step functions carry their name
    func.__dict__.setdefault("decorators", [])
    return func


@dataclass
class Transition:
    """What a step's ``self.next(...)`` asked for."""

    targets: list[str]
    foreach: str | None = None
    condition: str | None = None
    switch: dict[str, str] | None = None  # condition value -> step, for the switch form
    num_parallel: int | None = None  # a gang of this many tasks of one @parallel step

    def to_json(self) -> dict:
        return {"targets": self.targets, "foreach": self.foreach,
                "condition": self.condition, "switch": self.switch,
                "num_parallel": self.num_parallel}


# One enclosing foreach as ``flow._foreach_stack`` gives it (Metaflow's fields; ``index``
# shadows the tuple method there too).
ForeachFrame = collections.namedtuple("ForeachFrame", "step var num_splits index value")


@dataclass
class SplitFrame:
    """One level of branching a task is inside: which split, which branch of how many."""

    step: str
    kind: SplitKind
    index: int
    count: int
    var: str | None = None  # the foreach attribute

    def to_json(self) -> list:
        return [self.step, self.kind, self.index, self.count, self.var]

    @classmethod
    def from_json(cls, value: list) -> "SplitFrame":
        step, kind, *rest = value
        return cls(step, SplitKind(kind), *rest)


@dataclass
class TaskState:
    """Everything a flow object needs while it runs as a task (kept out of user names)."""

    artifacts: dict[str, "ArtifactInfo"] = field(default_factory=dict)  # inherited, unloaded
    cas: "ContentAddressedStore | None" = None
    step_name: str | None = None
    stack: list[SplitFrame] = field(default_factory=list)
    assigned: set[str] = field(default_factory=set)
    transition: Transition | None = None
    running: bool = False
    parameter_names: frozenset[str] = frozenset()
    read_only: bool = False  # inputs of a join
    is_join: bool = False
    helper_names: frozenset[str] = frozenset()  # set by a user __init__: not artifacts
    loaded: dict[str, "ArtifactInfo"] = field(default_factory=dict)  # inherited, read


class FlowSpec:
    """Base class of every flow. Subclass it, define ``start`` and ``end`` steps."""

    _flow_decorators: list = []
    _flow_namespace: str | None = None

    def __init__(self, use_cli: bool = True):
        if "_hw" in self.__dict__:  # built by the task executor (_for_task): no CLI here
            return
        object.__setattr__(self, "_hw", TaskState())
        if use_cli and type(self).__module__ == "__main__":
            from .cli.flow_cli import main

            main(type(self))  # exits the process

    @classmethod
    def _for_task(cls, state: TaskState) -> "FlowSpec":
        """The flow object a task runs on. A subclass's own ``__init__`` runs, as in
        Metaflow, so the helpers it sets exist in every step; they are not artifacts unless
        a step assigns them, and an artifact inherited under the same name wins."""
        flow = object.__new__(cls)
        object.__setattr__(flow, "_hw", state)
        if cls.__init__ is FlowSpec.__init__:
            return flow
        running, state.running = state.running, False  # __init__ assigns no artifacts
        try:
            cls.__init__(flow)
        finally:
            state.running = running
        helpers = {n for n in flow.__dict__ if n != "_hw"}
        for name in helpers & set(state.artifacts):
            object.__delattr__(flow, name)
        state.helper_names = frozenset(helpers - set(state.artifacts))
        return flow

    # --- identity ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The flow's name (its class name)."""
        return type(self).__name__

    # Metaflow's flow objects expose these three to step code and decorators; code written
    # for Metaflow reads them, so they keep Metaflow's names and shapes.

    @property
    def _graph(self) -> "MetaflowGraphView":
        """The flow's graph with Metaflow's node attributes (``.type``, ``.in_funcs``,
        ``.out_funcs``, ``.parallel_step``, ...)."""
        flow_cls: type = type(self)  # as a plain type: mypy finds type[FlowSpec] unhashable
        return _graph_view(flow_cls)

    @property
    def _current_step(self) -> str | None:
        """The name of the step this flow object runs (``None`` outside a task)."""
        return self._state().step_name

    @property
    def _foreach_stack(self) -> list["ForeachFrame"]:
        """One ``ForeachFrame(step, var, num_splits, index, value)`` for each enclosing
        foreach, outermost first."""
        frames = [f for f in self._state().stack if f.kind == "foreach"]
        return [ForeachFrame(f.step, f.var, count, index, value)
                for f, (index, count, value) in zip(frames, self.foreach_stack())]

    @classmethod
    def _flow_file(cls) -> str | None:
        try:
            return inspect.getfile(cls)
        except (TypeError, OSError):
            return None

    # --- artifacts -----------------------------------------------------------------------

    def _state(self) -> TaskState:
        try:
            return object.__getattribute__(self, "_hw")
        except AttributeError:  # a subclass __init__ that skipped ours
            state = TaskState()
            object.__setattr__(self, "_hw", state)
            return state

    def _load_inherited(self, name: str) -> tuple[bool, Any]:
        """Load an inherited artifact into the instance (once); ``(found, value)``."""
        state = self._state()
        info = state.artifacts.get(name)
        if info is None or state.cas is None:
            return False, None
        value = state.cas.load(info.sha, info.size)
        object.__setattr__(self, name, value)  # cache; loading is not an assignment
        state.loaded[name] = info
        return True, value

    def _changed_in_place(self) -> list[str]:
        """Inherited artifacts the step read and then changed without assigning them
        (``self.seen.add(x)``): stored again, as Metaflow stores them."""
        state = self._state()
        if state.cas is None:
            return []
        changed = []
        for name, info in state.loaded.items():
            if (name in state.assigned or name.startswith("_") or name in state.parameter_names
                    or name not in self.__dict__):
                continue
            value = self.__dict__[name]
            if _cannot_change(value):
                continue
            try:
                if state.cas.digest(name, value) != info.sha:
                    changed.append(name)
            except Exception:  # stored once, so picklable; if no longer, keep the stored one
                continue
        return changed

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: an inherited artifact not loaded yet.
        if name.startswith("__") or name == "_hw":
            raise AttributeError(name)
        found, value = self._load_inherited(name)
        if not found:
            state = self._state()
            hint = (" (in a join step, artifacts that differ between branches are read from "
                    "inputs, or combined with self.merge_artifacts(inputs))") if state.is_join else ""
            raise AttributeError(f"{type(self).__name__!r} flow has no artifact {name!r}{hint}")
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        state = self._state()
        if state.running:
            if state.read_only:
                raise AttributeError(f"inputs of a join are read-only (setting {name!r})")
            flow_cls: type = type(self)  # as a plain type: mypy finds type[FlowSpec] unhashable
            if name in state.parameter_names or name in flow_constants(flow_cls):
                raise _not_modifiable(flow_cls, name, state.step_name)
            state.assigned.add(name)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        state = self._state()
        state.artifacts.pop(name, None)
        state.assigned.discard(name)
        if name in self.__dict__:
            object.__delattr__(self, name)

    def _artifact_names(self) -> set[str]:
        state = self._state()
        names = set(state.artifacts) | {n for n in self.__dict__ if n != "_hw"}
        names -= state.helper_names - state.assigned
        return {n for n in names if not n.startswith("_")}

    def _artifact_sha(self, name: str) -> str | None:
        """The stored hash of an inherited, unchanged artifact (None if set in this task)."""
        state = self._state()
        if name in state.assigned:
            return None
        info = state.artifacts.get(name)
        return info.sha if info else None

    # --- transitions ---------------------------------------------------------------------

    def next(self, *steps: Any, foreach: str | None = None, condition: str | None = None,
             num_parallel: int | None = None) -> None:
        """Name the step(s) that run after this one.

        ``self.next(self.a)``; a static branch ``self.next(self.a, self.b)``; a fan-out
        ``self.next(self.a, foreach="items")``; ``num_parallel`` tasks of one ``@parallel``
        step ``self.next(self.train, num_parallel=4)``; a switch
        ``self.next({"x": self.a, "y": self.b}, condition="choice")``; or plain ``if``/``else``
        around different ``self.next`` calls.
        """
        state = self._state()
        if state.transition is not None and state.running:
            raise InvalidNextError(
                f"self.next() was called twice in step {state.step_name or '?'!r}",
                "call self.next() exactly once per step execution")
        switch = None
        if len(steps) == 1 and isinstance(steps[0], dict):
            if condition is None:
                raise InvalidNextError("self.next({...}) needs condition='attribute'",
                                       "e.g. self.next({'a': self.a, 'b': self.b}, "
                                       "condition='choice')")
            switch = {str(k): _step_name(v) for k, v in steps[0].items()}
            targets = list(dict.fromkeys(switch.values()))
        else:
            if not steps:
                raise InvalidNextError("self.next() needs at least one step",
                                       "e.g. self.next(self.end)")
            if condition is not None:
                raise InvalidNextError("condition= needs a dict of steps",
                                       "e.g. self.next({'a': self.a}, condition='choice')")
            targets = [_step_name(s) for s in steps]
        if foreach is not None:
            if not isinstance(foreach, str):
                raise InvalidNextError("foreach= takes the *name* of an attribute",
                                       "e.g. self.next(self.process, foreach='items')")
            if len(targets) != 1:
                raise InvalidNextError("a foreach fans out to exactly one step")
        if num_parallel is not None:
            if isinstance(num_parallel, bool) or not isinstance(num_parallel, int) or \
                    num_parallel < 1:
                raise InvalidNextError(f"num_parallel must be a positive integer, not "
                                       f"{num_parallel!r}",
                                       "e.g. self.next(self.train, num_parallel=4)")
            if len(targets) != 1 or foreach is not None:
                raise InvalidNextError("num_parallel= fans out to exactly one step, "
                                       "without foreach=",
                                       "e.g. self.next(self.train, num_parallel=4)")
        state.transition = Transition(targets, foreach, condition, switch, num_parallel)

    # --- foreach -------------------------------------------------------------------------

    def _foreach_frame(self) -> SplitFrame | None:
        for frame in reversed(self._state().stack):
            if frame.kind == "foreach":
                return frame
        return None

    @property
    def index(self) -> int | None:
        """The index of this task in the innermost foreach (None outside a foreach)."""
        frame = self._foreach_frame()
        return frame.index if frame else None

    @property
    def input(self) -> Any:
        """The item of the innermost foreach this task processes (None outside one)."""
        frame = self._foreach_frame()
        if frame is None:
            return None
        if frame.var is None:  # a num_parallel fan-out: the task's node index
            return frame.index
        values = getattr(self, frame.var)
        try:
            return values[frame.index]
        except TypeError:  # sets, generators stored as iterables: index a list of them
            return list(values)[frame.index]

    def __iter__(self) -> Iterator[Callable]:
        """The flow's steps (bound methods) in graph order, as Metaflow's ``for step in
        flow`` gives them; each has the graph's ``.name`` on its function."""
        from .graph import FlowGraph

        return iter([getattr(self, node.name) for node in FlowGraph(type(self))])

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        """``(index, num_splits, value)`` for each enclosing foreach, outermost first."""
        out = []
        for frame in self._state().stack:
            if frame.kind == "foreach":
                values = getattr(self, frame.var, None) if frame.var else None
                value = None
                if values is not None:
                    try:
                        value = values[frame.index]
                    except TypeError:
                        value = list(values)[frame.index]
                out.append((frame.index, frame.count, value))
        return out

    # --- joins ---------------------------------------------------------------------------

    def merge_artifacts(self, inputs: "Inputs | list[FlowSpec]",
                        exclude: Iterable[str] = (), include: Iterable[str] = ()) -> None:
        """Copy artifacts of the join's inputs onto ``self``.

        An artifact with the same value in every input that has it is taken over (by
        reference: nothing is loaded or copied); one whose values differ raises
        ``MergeArtifactsError`` unless excluded or already set on ``self``.
        """
        excluded, included = set(exclude), set(include)
        state = self._state()
        candidates: dict[str, list[tuple[FlowSpec, str | None]]] = {}
        for inp in inputs:
            for name in inp._artifact_names():
                if name in state.parameter_names:
                    continue
                candidates.setdefault(name, []).append((inp, inp._artifact_sha(name)))
        missing = sorted(included - set(candidates))
        if missing:
            raise MergeArtifactsError(
                f"merge_artifacts(include=...) names {', '.join(missing)}, which no input has",
                missing)
        conflicts = []
        for name, holders in sorted(candidates.items()):
            if name in excluded or (included and name not in included):
                continue
            if name in state.assigned or (name in self.__dict__
                                          and name not in state.helper_names):
                continue  # set explicitly in this join: the user decided
            shas = {sha for _, sha in holders}
            if None in shas:  # values computed in this process (unit tests): compare them
                values = [getattr(h, name) for h, _ in holders]
                agree = all(_same(values[0], v) for v in values[1:])
            else:
                agree = len(shas) == 1
            if not agree:
                conflicts.append(name)
                continue
            source, sha = holders[0]
            if sha is not None and state.cas is not None:
                state.artifacts[name] = source._state().artifacts[name]
                state.assigned.discard(name)
                self.__dict__.pop(name, None)  # a helper of __init__ under the same name
            else:
                setattr(self, name, getattr(source, name))
        if conflicts:
            raise MergeArtifactsError(
                f"artifacts {', '.join(conflicts)} have different values in the inputs of "
                f"step {state.step_name or '?'!r}", conflicts)


def class_members(flow_cls: type, kind: type) -> dict[str, Any]:
    """Attribute name -> value for every class attribute of type ``kind`` (parameters,
    configs), base classes first so subclasses override."""
    found: dict[str, Any] = {}
    for klass in reversed(flow_cls.__mro__):
        for attr, value in vars(klass).items():
            if isinstance(value, kind):
                found[attr] = value
    return found


@functools.lru_cache(maxsize=None)
def flow_constants(flow_cls: type) -> frozenset[str]:
    """Class-level values of a flow (``THRESHOLD = 0.5``) that a step may read but not
    assign, as in Metaflow: methods, properties, classes and ``_names`` are not among them."""
    names = set()
    for klass in flow_cls.__mro__:
        if klass is FlowSpec or klass is object:
            continue
        for attr, value in vars(klass).items():
            if not attr.startswith("_") and not isinstance(
                    value, (types.FunctionType, staticmethod, classmethod, property, type)):
                names.add(attr)
    return frozenset(names)


_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), range)


def _cannot_change(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` cannot have been changed in place (no need to serialize it again
    to find out)."""
    if isinstance(value, _IMMUTABLE):
        return True
    if isinstance(value, (tuple, frozenset)) and depth < 3:
        return all(_cannot_change(v, depth + 1) for v in value)
    return False


@functools.lru_cache(maxsize=None)
def _graph_view(flow_cls: type) -> "MetaflowGraphView":
    from .graph import FlowGraph
    from .graph_view import MetaflowGraphView

    return MetaflowGraphView(FlowGraph(flow_cls))


def constant_values(flow_cls: type) -> dict[str, Any]:
    """The flow's class-level constants that can be stored, by name: a run stores them
    with its parameters, so that every task has them as artifacts, as in Metaflow."""
    import pickle

    from .config import Config
    from .parameters import Parameter

    values = {}
    for name in sorted(flow_constants(flow_cls)):
        value = getattr(flow_cls, name)
        if isinstance(value, (Parameter, Config)):
            continue
        try:
            pickle.dumps(value)
        except Exception:  # a step still reads it from the class; the Client will not see it
            continue
        values[name] = value
    return values


def _not_modifiable(flow_cls: type, name: str, step_name: str | None
                    ) -> FlowAttributeNotModifiable:
    from .config import Config
    from .parameters import Parameter

    value = inspect.getattr_static(flow_cls, name, None)
    what = ("a Parameter" if isinstance(value, Parameter) else "a Config"
            if isinstance(value, Config) else f"a class attribute of {flow_cls.__name__}")
    return FlowAttributeNotModifiable(
        f"Flow level attributes and Parameters are not modifiable: step {step_name!r} "
        f"assigns self.{name}, {what}",
        f"store the new value under another name (e.g. self.{name}_value = ...)")


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception:  # numpy arrays, DataFrames: == is elementwise
        pass
    equals = getattr(a, "equals", None)  # pandas
    if callable(equals):
        return bool(equals(b))
    try:
        import numpy

        return bool(numpy.array_equal(a, b))
    except Exception:
        return False


def _step_name(target: Any) -> str:
    func = getattr(target, "__func__", target)
    if not getattr(func, "is_step", False):
        name = getattr(func, "__name__", repr(target))
        raise InvalidNextError(f"self.next() got {name!r}, which is not a step",
                               "pass step methods, e.g. self.next(self.end), and decorate "
                               "them with @step")
    return func.__name__


class Inputs:
    """The inputs of a join step: iterate them, index them, or name them by step
    (``inputs.train_a.score``) in a static branch join."""

    def __init__(self, flows: list[FlowSpec]):
        self._flows = flows

    def __iter__(self) -> Iterator[FlowSpec]:
        return iter(self._flows)

    def __len__(self) -> int:
        return len(self._flows)

    def __getitem__(self, index: int) -> FlowSpec:
        return self._flows[index]

    def __getattr__(self, step_name: str) -> FlowSpec:
        if step_name.startswith("_"):
            raise AttributeError(step_name)
        for flow in self._flows:
            if flow._state().step_name == step_name:
                return flow
        names = ", ".join(f._state().step_name or "?" for f in self._flows)
        raise AttributeError(f"the join has no input from step {step_name!r} (inputs: {names})")
