"""The flow graph: steps and transitions, found by reading the flow's source.

Each step's ``self.next(...)`` calls are read with ``ast`` (never by running the step):

- one call, one target: ``linear``; several targets: ``split`` (static branch);
- ``foreach="attr"``: ``foreach``;
- ``self.next({...}, condition="attr")`` or several calls in ``if``/``else``: ``switch``
  (a conditional: exactly one of the targets runs).

A switch may also go back to an earlier step (a *recursive switch*: a loop that ends when
the condition picks another branch); that edge is the only kind of cycle allowed, is kept in
``loops_to`` and is left out of the ordering and split analysis below.

Every split is closed by a *join*: a step that takes ``inputs`` or that several steps lead
to. Analysis tracks the stack of open splits along each path so the scheduler knows what
each join waits for (every branch of a static split, every task of a foreach); where the
branches of a switch meet again nothing waits, since only the branch taken runs, so switches
may nest, end in ``end`` together, or sit inside a static branch. Every structural mistake is a ``GraphError`` naming file and line.
"""

from __future__ import annotations

import ast
import enum
import functools
import inspect
import textwrap
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from .exceptions import GraphError


class StepKind(str, enum.Enum):
    """What a step's ``self.next()`` does (the ``type`` of a step in ``describe()`` and in
    Metaflow's graph info)."""

    LINEAR = "linear"
    SPLIT = "split"  # a static split: every named step runs
    FOREACH = "foreach"
    SWITCH = "switch"  # one of the named steps runs, by a condition
    END = "end"

    def __str__(self) -> str:
        return self.value


class SplitKind(str, enum.Enum):
    """A split a step is inside (``StepNode.split_stack``, ``SplitFrame.kind``) or closes
    (``StepNode.join_kind``)."""

    STATIC = "static"
    FOREACH = "foreach"
    SWITCH = "switch"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def of(cls, kind: StepKind) -> "SplitKind":
        """The split a step of ``kind`` opens."""
        return {StepKind.SPLIT: cls.STATIC, StepKind.FOREACH: cls.FOREACH,
                StepKind.SWITCH: cls.SWITCH}[kind]


# An open split on an edge of the graph: (split step, kind, branch: the target of a static
# split's edge, else "").
OpenSplit = tuple[str, SplitKind, str]

# What _parse_call reports as the foreach of ``self.next(x, num_parallel=N)``.
PARALLEL = "<num_parallel>"

RESERVED = {"next", "input", "index", "merge_artifacts", "foreach_stack", "name",
            "_parameters", "script_name"}


@dataclass
class StepNode:
    """One step of the flow."""

    name: str
    func: Any
    file: str | None
    line: int | None
    doc: str | None
    takes_inputs: bool
    kind: StepKind = StepKind.LINEAR
    out: list[str] = field(default_factory=list)
    foreach_var: str | None = None
    parallel: bool = False  # a foreach of num_parallel tasks (self.next(x, num_parallel=N))
    condition: str | None = None
    in_funcs: list[str] = field(default_factory=list)
    is_join: bool = False  # waits for several inputs: closes a static split or a foreach
    join_kind: SplitKind | None = None  # the split this step closes
    # (split step, kind) open above this step; at run time a task's stack holds only the
    # static and foreach frames, since a switch's branch needs no join to wait for it
    split_stack: list[tuple[str, SplitKind]] = field(default_factory=list)
    # steps a switch of this step goes back to (a recursive switch); not in their in_funcs
    loops_to: list[str] = field(default_factory=list)

    @property
    def decorators(self) -> list:
        return getattr(self.func, "decorators", [])


class FlowGraph:
    """The analysed graph of a flow class."""

    def __init__(self, flow_cls: type):
        self.flow_cls = flow_cls
        self.name = flow_cls.__name__
        self.file = _source_file(flow_cls)
        self.nodes: dict[str, StepNode] = {}
        self._parse()
        self._check_steps()
        self._find_loops()
        self.order = self._topological_order()
        self._analyse_splits()
        self._check_loops()

    def __getitem__(self, name: str) -> StepNode:
        return self.nodes[name]

    def starts_gang(self, name: str) -> bool:
        """Whether step ``name`` is a gang's (``@parallel``'s) step: every step leading to it
        fans out with ``num_parallel=`` (``ParallelDecorator`` refuses any other shape)."""
        node = self.nodes[name]
        return bool(node.in_funcs) and all(self.nodes[p].parallel for p in node.in_funcs)

    def __iter__(self):
        return (self.nodes[n] for n in self.order)

    def __contains__(self, name: str) -> bool:
        return name in self.nodes

    # --- parsing -------------------------------------------------------------------------

    def _parse(self) -> None:
        funcs: dict[str, Any] = {}
        for klass in reversed(self.flow_cls.__mro__):
            for attr, value in vars(klass).items():
                # isfunction first: a Config answers any attribute (is_step too) with a
                # placeholder, so only a real function can be a step.
                if inspect.isfunction(value) and getattr(value, "is_step", False):
                    funcs[attr] = value
                elif attr in funcs:
                    del funcs[attr]  # overridden by a non-step
        # Before reading the steps: a flow whose last step is not named 'end' would
        # otherwise be told that step "never calls self.next()".
        for required in ("start", "end"):
            if required not in funcs:
                raise GraphError(f"flow {self.name} has no {required!r} step",
                                 f"add a step named {required!r} (decorated with @step)",
                                 file=self.file, line=_source_line(self.flow_cls))
        for name, func in funcs.items():
            self.nodes[name] = self._parse_step(name, func)

    def _parse_step(self, name: str, func: Any) -> StepNode:
        file = _source_file(func)
        try:
            lines, first = inspect.getsourcelines(func)
        except (OSError, TypeError):
            raise GraphError(f"cannot read the source of step {name!r}",
                             "define flows in a .py file (not an interactive session)",
                             file=file) from None
        tree = ast.parse(textwrap.dedent("".join(lines)))
        fdef = next(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef,
                                                               ast.AsyncFunctionDef)))
        def_line = first + fdef.lineno - 1
        args = fdef.args.args
        node = StepNode(name=name, func=func, file=file, line=def_line,
                        doc=inspect.getdoc(func), takes_inputs=len(args) == 2)
        if len(args) not in (1, 2) or fdef.args.vararg or fdef.args.kwonlyargs:
            raise GraphError(f"step {name!r} must be 'def {name}(self)' or, for a join, "
                             f"'def {name}(self, inputs)'", file=file, line=def_line)
        if name in RESERVED or name.startswith("_"):
            raise GraphError(f"{name!r} cannot be a step name (it is reserved)",
                             "rename the step", file=file, line=def_line)
        calls = [c for c in ast.walk(fdef) if _is_next_call(c)]
        if not calls:
            if name != "end":
                raise GraphError(f"step {name!r} never calls self.next()",
                                 f"end step {name!r} with e.g. self.next(self.end)",
                                 file=file, line=def_line)
            node.kind = StepKind.END
            return node
        if name == "end":
            call = calls[0]
            raise GraphError("the end step must not call self.next()",
                             "remove the call; the flow finishes after end",
                             file=file, line=first + call.lineno - 1)
        parsed = [self._parse_call(name, call, file, first) for call in calls]
        if len(parsed) == 1:
            targets, foreach, condition, is_switch = parsed[0]
            node.out = targets
            node.parallel = foreach is PARALLEL
            node.foreach_var = None if node.parallel else foreach
            node.condition = condition
            node.kind = (StepKind.SWITCH if is_switch else StepKind.FOREACH if foreach
                         else StepKind.SPLIT if len(targets) > 1 else StepKind.LINEAR)
        else:
            out: list[str] = []
            for (targets, foreach, _, is_switch), call in zip(parsed, calls):
                if foreach or is_switch or len(targets) != 1:
                    raise GraphError(
                        f"step {name!r} calls self.next() in several places; each such call "
                        f"must name exactly one step",
                        "branch with if/else around self.next(self.a) / self.next(self.b), "
                        "or use one static split self.next(self.a, self.b)",
                        file=file, line=first + call.lineno - 1)
                out.extend(t for t in targets if t not in out)
            node.out = out
            node.kind = StepKind.SWITCH if len(out) > 1 else StepKind.LINEAR
        return node

    def _parse_call(self, step: str, call: ast.Call, file: str | None,
                    first: int) -> tuple[list[str], str | None, str | None, bool]:
        line = first + call.lineno - 1
        kwargs = {k.arg or "**": k.value for k in call.keywords}  # None: a **mapping
        unknown = set(kwargs) - {"foreach", "condition", "num_parallel"}
        if unknown:
            raise GraphError(f"self.next() in step {step!r} got unknown argument "
                             f"{sorted(unknown)[0]!r}", "use foreach=, condition= or "
                             "num_parallel=", file=file, line=line)
        if "num_parallel" in kwargs:
            if "foreach" in kwargs or "condition" in kwargs or len(call.args) != 1:
                raise GraphError(f"num_parallel= in step {step!r} fans out to exactly one "
                                 "step, without foreach= or condition=",
                                 "e.g. self.next(self.train, num_parallel=4)",
                                 file=file, line=line)
            return [_self_attr(call.args[0], step, file, line)], PARALLEL, None, False
        foreach = _const_str(kwargs.get("foreach"), "foreach", step, file, line)
        condition = _const_str(kwargs.get("condition"), "condition", step, file, line)
        args = call.args
        if len(args) == 1 and isinstance(args[0], ast.Dict):
            if condition is None:
                raise GraphError(f"self.next({{...}}) in step {step!r} needs condition=",
                                 "e.g. self.next({'a': self.a}, condition='choice')",
                                 file=file, line=line)
            targets = [_self_attr(v, step, file, line) for v in args[0].values]
            return list(dict.fromkeys(targets)), None, condition, True
        if not args:
            raise GraphError(f"self.next() in step {step!r} names no step",
                             "e.g. self.next(self.end)", file=file, line=line)
        targets = [_self_attr(a, step, file, line) for a in args]
        if foreach and len(targets) != 1:
            raise GraphError(f"the foreach in step {step!r} must fan out to exactly one step",
                             f"e.g. self.next(self.{targets[0]}, foreach={foreach!r})",
                             file=file, line=line)
        if condition is not None:
            raise GraphError(f"condition= in step {step!r} needs a dict of steps",
                             "e.g. self.next({'a': self.a, 'b': self.b}, condition='choice')",
                             file=file, line=line)
        return targets, foreach, None, False

    # --- checks --------------------------------------------------------------------------

    def _check_steps(self) -> None:
        for node in self.nodes.values():
            for target in node.out:
                if target not in self.nodes:
                    what = ("a method that is not decorated with @step"
                            if callable(getattr(self.flow_cls, target, None))
                            else "not defined in the flow")
                    raise GraphError(f"step {node.name!r} goes to {target!r}, which is {what}",
                                     f"define 'def {target}(self)' with @step, or fix the name",
                                     file=node.file, line=node.line)
                self.nodes[target].in_funcs.append(node.name)
        if self.nodes["start"].in_funcs:
            node = self.nodes[self.nodes["start"].in_funcs[0]]
            raise GraphError(f"step {node.name!r} goes back to 'start'",
                             "flows are acyclic: go forward to a new step",
                             file=node.file, line=node.line)
        if self.nodes["start"].takes_inputs:
            node = self.nodes["start"]
            raise GraphError("the start step cannot take inputs", "def start(self):",
                             file=node.file, line=node.line)
        reachable = set()
        todo = ["start"]
        while todo:
            name = todo.pop()
            if name not in reachable:
                reachable.add(name)
                todo.extend(self.nodes[name].out)
        unreachable = sorted(set(self.nodes) - reachable, key=lambda n: self.nodes[n].line or 0)
        if unreachable:
            node = self.nodes[unreachable[0]]
            raise GraphError(f"step {node.name!r} can never run: no step leads to it",
                             f"add self.next(self.{node.name}) to a step, or remove it",
                             file=node.file, line=node.line)

    def _find_loops(self) -> None:
        """Find the edges that go back to an earlier step. Only a switch may go back (a
        recursive switch: the loop ends when the condition picks the other branch); such
        an edge leaves ``in_funcs`` so that the rest of the analysis sees a DAG."""
        on_path: set[str] = set()
        done: set[str] = set()
        back: list[tuple[str, str]] = []

        def visit(name: str) -> None:
            on_path.add(name)
            for target in dict.fromkeys(self.nodes[name].out):
                if target in on_path:
                    back.append((name, target))
                elif target not in done:
                    visit(target)
            on_path.discard(name)
            done.add(name)

        visit("start")
        for source, target in back:
            node = self.nodes[source]
            if node.kind != StepKind.SWITCH:
                looped = self.nodes[target]
                raise GraphError(f"steps form a loop through {target!r}",
                                 "flows are acyclic except where a switch goes back to an "
                                 "earlier step (a recursive switch): go forward to a new "
                                 "step, or choose between going back and going on",
                                 file=looped.file, line=looped.line)
            node.loops_to.append(target)
            self.nodes[target].in_funcs = [p for p in self.nodes[target].in_funcs
                                           if p != source]

    @functools.cached_property
    def loop_steps(self) -> frozenset[str]:
        """Steps that may run more than once in a run: those on a recursive switch's loop,
        and every step after one (``resume`` runs them again instead of reusing them)."""
        found: set[str] = set()
        todo = [t for node in self.nodes.values() for t in node.loops_to]
        while todo:
            name = todo.pop()
            if name not in found:
                found.add(name)
                todo.extend(self.nodes[name].out)
        return frozenset(found)

    def _check_loops(self) -> None:
        """A loop stays inside the splits it started in, and does not go back to a join."""
        for node in self.nodes.values():
            for target in node.loops_to:
                back = self.nodes[target]
                if back.takes_inputs:
                    raise GraphError(f"step {node.name!r} goes back to the join {target!r}",
                                     "go back to a step that takes no inputs",
                                     file=node.file, line=node.line)
                if [f for f in node.split_stack if f[1] != SplitKind.SWITCH] != [
                        f for f in back.split_stack if f[1] != SplitKind.SWITCH]:
                    raise GraphError(f"the loop from step {node.name!r} back to {target!r} "
                                     f"crosses a split or a join",
                                     "keep a loop inside one branch: go back to a step after "
                                     "the same split", file=node.file, line=node.line)

    def _topological_order(self) -> list[str]:
        indegree = {n: len(set(node.in_funcs)) for n, node in self.nodes.items()}
        ready = ["start"]
        order: list[str] = []
        while ready:
            name = ready.pop(0)
            order.append(name)
            for target in dict.fromkeys(self.nodes[name].out):
                indegree[target] -= 1
                if indegree[target] == 0:
                    ready.append(target)
        if len(order) != len(self.nodes):
            stuck = min((n for n in self.nodes if n not in order),
                        key=lambda n: self.nodes[n].line or 0)
            node = self.nodes[stuck]
            raise GraphError(f"steps form a loop through {stuck!r}",
                             "flows are acyclic: make the later step go forward to a new step",
                             file=node.file, line=node.line)
        return order

    def _analyse_splits(self) -> None:
        """Give each step the stack of open splits above it; find what each join closes."""
        # edge_stack[(a, b)]: open splits (step, kind, branch) on the edge a -> b
        edge_stack: dict[tuple[str, str], list[OpenSplit]] = {}
        stacks: dict[str, list[OpenSplit]] = {"start": []}
        for name in self.order:
            node = self.nodes[name]
            if name != "start":
                incoming = [edge_stack[(p, name)] for p in dict.fromkeys(node.in_funcs)]
                stack = self._close(node, incoming)
                stacks[name] = stack
            stack = stacks[name]
            node.split_stack = [(s, k) for s, k, _ in stack]
            for target in dict.fromkeys(node.out):
                if node.kind in (StepKind.SPLIT, StepKind.FOREACH, StepKind.SWITCH):
                    branch = target if node.kind == StepKind.SPLIT else ""
                    edge_stack[(name, target)] = stack + [(name, SplitKind.of(node.kind), branch)]
                else:
                    edge_stack[(name, target)] = stack
        end = self.nodes["end"]
        unjoined = [s for s, kind in end.split_stack if kind != SplitKind.SWITCH]
        if unjoined:
            split = unjoined[-1]
            raise GraphError(f"the branches opened in step {split!r} are never joined "
                             f"before 'end'",
                             "add a join step 'def join(self, inputs)' that the branches "
                             "lead to", file=end.file, line=end.line)

    def _close(self, node: StepNode, incoming: list[list[OpenSplit]]
               ) -> list[OpenSplit]:
        """The open splits after ``node``, given those on each edge into it.

        A switch runs exactly one branch, so where its branches meet nothing waits: those
        frames only close. A step that takes ``inputs`` closes the innermost static split or
        foreach around it, whatever switches its inputs went through on the way.
        """
        if not node.takes_inputs and len(incoming) == 1:
            return incoming[0]
        first = incoming[0]
        # Where a switch's branches meet, a step that takes inputs inside a foreach or a
        # static split joins that split (as Metaflow reads it: each item went one way of
        # the switch); outside any, it only merges the switch.
        if all(stack == first for stack in incoming) and first \
                and first[-1][1] == SplitKind.SWITCH and not (
                    node.takes_inputs and any(f[1] != SplitKind.SWITCH for f in first)):
            return self._switch_merge(node, first[:-1])
        skeletons = [[f for f in stack if f[1] != SplitKind.SWITCH] for stack in incoming]
        if not node.takes_inputs:
            if all(sk == skeletons[0] for sk in skeletons):  # they differ in switches only
                common = _common_prefix(incoming)
                if common and common[-1][1] == SplitKind.SWITCH:
                    common = common[:-1]  # several branches of that switch arrive here too
                return self._switch_merge(node, common)
            self._check_one_split(node, skeletons)
            split, kind = skeletons[0][-1][:2]
            raise GraphError(f"step {node.name!r} joins the branches of step {split!r} and "
                             f"must take them as inputs",
                             f"write 'def {node.name}(self, inputs)'",
                             file=node.file, line=node.line)
        if any(not sk for sk in skeletons):
            raise GraphError(f"step {node.name!r} takes inputs but there is no branch to "
                             f"join before it", f"write 'def {node.name}(self)'",
                             file=node.file, line=node.line)
        self._check_one_split(node, skeletons)
        split, kind = skeletons[0][-1][:2]
        if kind == SplitKind.STATIC:
            expected = set(self.nodes[split].out)
            arrived = {sk[-1][2] for sk in skeletons}
            if arrived != expected:
                missing = ", ".join(sorted(expected - arrived))
                raise GraphError(f"join {node.name!r} does not receive the branch(es) "
                                 f"{missing} of step {split!r}",
                                 "every branch of a static split must reach the same join",
                                 file=node.file, line=node.line)
        node.is_join = True
        node.join_kind = kind
        closed = max(i for i, f in enumerate(first) if f[1] != SplitKind.SWITCH)
        return list(first[:closed])

    def _switch_merge(self, node: StepNode, stack: list[OpenSplit]
                      ) -> list[OpenSplit]:
        node.join_kind = SplitKind.SWITCH  # not is_join: the one branch taken arrives, none waits
        return list(stack)

    @staticmethod
    def _check_one_split(node: StepNode, skeletons: list[list[OpenSplit]]) -> None:
        """The static splits and foreaches on the edges into ``node`` differ only in the
        branch of the innermost one, which is what a join closes."""
        rests = {tuple(sk[:-1]) for sk in skeletons}
        splits = {tuple(sk[-1][:2]) if sk else None for sk in skeletons}
        if len(rests) > 1 or len(splits) > 1 or None in splits:
            names = ", ".join(sorted({sk[-1][0] for sk in skeletons if sk} or {"start"}))
            raise GraphError(f"step {node.name!r} joins branches of different splits "
                             f"({names})", "join the inner branches first, then the outer ones",
                             file=node.file, line=node.line)

    # --- presentation --------------------------------------------------------------------

    def describe(self) -> list[dict[str, Any]]:
        """One dict per step in topological order (for ``show`` and deployers)."""
        return [{"name": n.name, "type": n.kind.value, "next": n.out, "foreach": n.foreach_var,
                 "condition": n.condition, "join": n.join_kind.value if n.join_kind else None,
                 "doc": n.doc,
                 "decorators": [repr(d) for d in n.decorators], "line": n.line}
                for n in self]


def _common_prefix(stacks: list[list[OpenSplit]]) -> list[OpenSplit]:
    prefix = []
    for frames in zip(*stacks):
        if any(f != frames[0] for f in frames):
            break
        prefix.append(frames[0])
    return prefix


def _source_file(obj: Any) -> str | None:
    try:
        return inspect.getsourcefile(obj)
    except (TypeError, OSError):
        return None


def _source_line(obj: Any) -> int | None:
    try:
        return inspect.getsourcelines(obj)[1]
    except (TypeError, OSError):
        return None


def _is_next_call(node: ast.AST) -> TypeGuard[ast.Call]:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "next" and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "self")


def _self_attr(node: ast.AST, step: str, file: str | None, line: int) -> str:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
            and node.value.id == "self":
        return node.attr
    raise GraphError(f"self.next() in step {step!r} must name steps as self.<step>",
                     "e.g. self.next(self.train)", file=file, line=line)


def _const_str(node: ast.AST | None, what: str, step: str, file: str | None,
               line: int) -> str | None:
    if node is None:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    raise GraphError(f"{what}= in step {step!r} must be a literal attribute name",
                     f"e.g. {what}='items'", file=file, line=line)
