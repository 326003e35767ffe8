"""Metaflow's own core test suite (``test/core`` of a Metaflow checkout), run on Headwater
and on Metaflow, side by side: how much of Metaflow's behaviour Headwater reproduces.

    python bench/metaflow_core_suite.py --metaflow-src /work/.mirror/Netflix+metaflow/repo
    python bench/metaflow_core_suite.py --metaflow-src ~/src/metaflow --tool both \\
        --venv bench/.venvs/metaflow-2.19 --tests BasicArtifactTest,CatchRetryTest
    python bench/metaflow_core_suite.py --help

A measurement, not a test (CI does not run it: it needs a Metaflow checkout). What it does,
and where it departs from Metaflow's ``test/core/run_tests.py`` (which drives Metaflow's
internal click objects and cannot run on anything else):

- ``--metaflow-src`` is a checkout or a bare git directory (``git archive HEAD test/core``).
- Cases are every valid test x graph pair of Metaflow's ``FlowFormatter``, for one context of
  ``contexts.json`` (default ``python3-all-local``); tests the context disables stay
  disabled for both tools. The formatter, the test classes and the checkers run under the
  tool's interpreter, Headwater's through a shim (a generated ``sitecustomize.py``) that
  makes ``import metaflow`` import Headwater and maps the few ``metaflow.*`` modules the
  suite's helpers and tests import (``metaflow.client``, ``metaflow.cards``,
  ``metaflow.metaflow_current``, ``metaflow.plugins.cards.exception``) onto Headwater's
  equivalents; ``metaflow.util.is_stringish`` and ``metaflow.includefile.IncludedFile``
  (only ``CliCheck`` uses them) get stand-ins.
- The flow header the formatter writes imports ``FlowMutator``, ``StepMutator``,
  ``UserStepDecorator`` and ``user_step_decorator`` in every flow. Headwater has none of
  them (docs/differences.md); the shim gives each a stand-in that fails when a flow uses it,
  so only the tests that use them fail, naming the missing class.
- The suite's own extensions (``test/core/metaflow_extensions``: test card types, step and
  flow decorators) are on ``PYTHONPATH`` for both tools, as ``run_tests.py`` has them.
  Metaflow loads them; Headwater does not read ``metaflow_extensions``
  (docs/differences.md), so the tests that use them fail on Headwater.
- Each case runs in its own temporary directory (local metadata and datastore, found from
  the working directory; its own ``METAFLOW_HOME``) as ``python test_flow.py <top options>
  run --run-id-file run-id <run options>``, with ``resume`` after an expected failure, as
  ``run_tests.py`` does; ``--jobs`` cases at a time (default 2). The tool's interpreter is
  first on ``PATH`` (Metaflow starts ``python`` for ``@parallel`` and unbounded-foreach
  workers).
- Executors: the ``cli`` executor only. The ``api`` executor builds ``Runner`` arguments by
  introspecting Metaflow's click commands (``metaflow.runner.click_api``), which is not a
  user surface; it is skipped for both tools.
- Checkers: ``MetadataCheck`` (the Client API) for both tools. ``CliCheck`` (which reads
  artifacts through ``python flow.py dump --file`` as pickles, logs through ``logs``, tags
  through ``tag list``, cards through ``card get``) is skipped by default; ``--cli-check``
  runs it too, and a case then passes only if both checkers pass.
- Top options are passed as ``contexts.json`` writes them (``--event-logger``,
  ``--no-pylint``, ...: Headwater accepts them and does nothing with them);
  ``--drop-top-option OPT`` leaves one out (for measuring a Headwater that refuses it).

The table lists each case with ``pass``, or the stage that failed (``run``, ``resume``,
``check``, ``timeout``, ``generate``) and the last line of that stage's error output; logs of
every stage stay in ``--workdir`` (default: a new temporary directory, printed at the end).
``--save FILE`` writes the results as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
DEFAULT_VENV = BENCH / ".venvs" / "metaflow-2.19"
TOOLS = ("headwater", "metaflow")

# Makes ``import metaflow`` (and the handful of submodules the suite's helpers use) import
# Headwater. Stand-ins fail where a flow uses a class Headwater does not have.
SHIM = textwrap.dedent('''
    import importlib
    import sys
    import types

    import headwater
    import headwater.cards
    import headwater.client
    import headwater.exception
    from headwater.exceptions import ObjectNotFound


    def _unavailable(name):
        def refuse(cls, *args, **kwargs):
            raise NotImplementedError(f"{name} is not available in Headwater")

        return type(name, (), {"__init_subclass__": classmethod(refuse), "__new__": refuse})


    for _name in ("FlowMutator", "StepMutator", "UserStepDecorator"):
        if not hasattr(headwater, _name):
            setattr(headwater, _name, _unavailable(_name))
    if not hasattr(headwater, "user_step_decorator"):
        def user_step_decorator(*args, **kwargs):
            raise NotImplementedError("user_step_decorator is not available in Headwater")
        headwater.user_step_decorator = user_step_decorator


    def _module(name, **attrs):
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        return module


    def _is_stringish(value):
        return isinstance(value, (str, bytes))


    sys.modules.update({
        "metaflow": headwater,
        "metaflow.metaflow_current": importlib.import_module("headwater.current"),
        "metaflow.exception": headwater.exception,
        "metaflow.client": headwater.client,
        "metaflow.cards": headwater.cards,
        "metaflow.includefile": _module("metaflow.includefile",
                                        IncludedFile=type("IncludedFile", (), {})),
        "metaflow.util": _module("metaflow.util", is_stringish=_is_stringish),
        "metaflow.plugins": _module("metaflow.plugins"),
        "metaflow.plugins.cards": _module("metaflow.plugins.cards"),
        "metaflow.plugins.cards.exception": _module(
            "metaflow.plugins.cards.exception", CardNotPresentException=ObjectNotFound),
    })
''')


@dataclass
class Case:
    """One test x graph flow, as the formatter wrote it."""

    test: str
    graph: str
    dir: str
    flow_name: str
    should_fail: bool
    should_resume: bool
    resume_step: str | None

    @property
    def name(self) -> str:
        return f"{self.test}/{self.graph}"


@dataclass
class Outcome:
    """What happened to one case on one tool."""

    status: str  # "pass", or the stage that failed
    detail: str = ""
    seconds: float = 0.0
    stages: list[str] = field(default_factory=list)


# --- generating the cases (runs under the tool's interpreter) ------------------------------

def generate(core: Path, out: Path, context_name: str, tests: set[str], graphs: set[str]) -> None:
    """Write one directory per valid case under ``out`` and ``out/manifest.json``."""
    sys.path.insert(0, str(core))
    os.chdir(core)
    out.mkdir(parents=True, exist_ok=True)
    import importlib

    from metaflow_test import MetaflowTest
    from metaflow_test.formatter import FlowFormatter

    # run_tests.py's own listing imports Metaflow's CLI internals: list the same way here
    sys.path.insert(0, str(core / "tests"))
    test_classes, errors = [], []
    for path in sorted((core / "tests").glob("[!.]*.py")):
        try:
            module = importlib.import_module(path.stem)
        except Exception as exc:  # a test module this tool cannot import fails its cases
            errors.append({"test": path.stem, "graph": "*",
                           "error": f"importing: {type(exc).__name__}: {exc}"})
            continue
        test_classes += [obj for name, obj in vars(module).items()
                         if isinstance(obj, type) and issubclass(obj, MetaflowTest)
                         and obj is not MetaflowTest and obj.__module__ == module.__name__]
    graph_specs = [json.loads(p.read_text()) for p in sorted((core / "graphs").glob("[!.]*.json"))]

    contexts = json.loads((core / "contexts.json").read_text())
    context = next(c for c in contexts["contexts"] if c["name"] == context_name)
    disabled = set(context.get("disabled_tests", []))
    enabled = set(context.get("enabled_tests", []))
    cases = []
    for test_cls in sorted(test_classes, key=lambda t: (t.PRIORITY, t.__name__)):
        test = test_cls()
        name = test_cls.__name__
        if name in disabled or (enabled and name not in enabled):
            continue
        if tests and name.lower() not in tests:
            continue
        for graph in sorted(graph_specs, key=lambda g: g["name"]):
            if graphs and graph["name"].lower() not in graphs:
                continue
            if context.get("disable_parallel") and any(
                    "num_parallel" in node for node in graph["graph"].values()):
                continue
            try:
                formatter = FlowFormatter(graph, test)
            except Exception as exc:  # a formatter failure is this tool's failure
                errors.append({"test": name, "graph": graph["name"],
                               "error": f"{type(exc).__name__}: {exc}"})
                continue
            if not formatter.valid:
                continue
            case_dir = out / f"{name}-{graph['name']}"
            case_dir.mkdir(parents=True)
            (case_dir / "test_flow.py").write_text(formatter.flow_code)
            (case_dir / "check_flow.py").write_text(formatter.check_code)
            shutil.copytree(core / "metaflow_test", case_dir / "metaflow_test")
            for extra in formatter.copy_files:
                shutil.copy2(core / "tests" / extra, case_dir / extra)
            cases.append(asdict(Case(name, graph["name"], str(case_dir), formatter.flow_name,
                                     bool(formatter.should_fail),
                                     bool(formatter.should_resume), formatter.resume_step)))
    (out / "manifest.json").write_text(json.dumps(
        {"context": context, "checks": contexts["checks"], "cases": cases,
         "errors": errors}, indent=1))


# --- running (in this process) --------------------------------------------------------------

def extract(src: Path, dest: Path) -> Path:
    """``test/core`` of a checkout or a bare git directory, copied under ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    if (src / "test" / "core").is_dir():
        shutil.copytree(src / "test" / "core", dest / "test" / "core")
    elif (src / "HEAD").is_file() and (src / "objects").is_dir():
        archive = subprocess.run(["git", "--git-dir", str(src), "archive", "HEAD", "test/core"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    else:
        raise SystemExit(f"{src}: not a Metaflow checkout nor a bare git directory of one "
                         "(expected test/core in it); pass --metaflow-src PATH")
    return dest / "test" / "core"


def tool_python(tool: str, venv: Path) -> str:
    if tool == "headwater":
        return sys.executable
    python = venv / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"{python} not found: pass --venv with Metaflow installed "
                         "(python -m venv DIR && DIR/bin/pip install 'metaflow>=2.19,<2.20')")
    return str(python)


def tool_pythonpath(tool: str, shim: Path, *extra: Path) -> str:
    parts = [str(p) for p in extra]
    if tool == "headwater":
        parts.insert(0, str(shim))
        if os.environ.get("PYTHONPATH"):
            parts.append(os.environ["PYTHONPATH"])
    return os.pathsep.join(parts)


def base_env(context: dict, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("METAFLOW_", "HEADWATER_", "PYTHON"))}
    env.update({k: v.format(nonce=os.urandom(8).hex()) for k, v in context["env"].items()})
    env.update(LANG="C.UTF-8", LC_ALL="C.UTF-8", PYTHONIOENCODING="utf_8",
               METAFLOW_HOME=str(home), USER=context["env"].get("METAFLOW_USER", "tester"))
    return env


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:160] if lines else ""


def run_case(case: Case, tool: str, python: str, shim: Path, core: Path, context: dict,
             top_options: list[str], checkers: list[str], timeout: float) -> Outcome:
    workdir = Path(case.dir)
    env = base_env(context, workdir / "home")
    # the tool's interpreter first on PATH: Metaflow starts `python` for @parallel and
    # unbounded-foreach workers
    env["PATH"] = os.pathsep.join([str(Path(python).parent), env.get("PATH", "")])
    # the core folder too, as run_tests.py has it: Metaflow finds the suite's
    # metaflow_extensions (test cards and decorators) there
    env["PYTHONPATH"] = tool_pythonpath(tool, shim, workdir, core)
    started = time.monotonic()
    outcome = Outcome("pass")

    def stage(name: str, args: list[str]) -> subprocess.CompletedProcess | None:
        outcome.stages.append(name)
        try:
            done = subprocess.run(args, cwd=workdir, env=env, capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL, errors="replace")
        except subprocess.TimeoutExpired as exc:
            (workdir / f"{name}.log").write_text(f"timed out after {timeout} s\n{exc.stderr}")
            outcome.status, outcome.detail = "timeout", name
            return None
        (workdir / f"{name}.log").write_text(
            f"$ {' '.join(args)}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}")
        return done

    def flow_command(mode: str, extra: list[str]) -> list[str]:
        return [python, "-B", "test_flow.py", *top_options, mode, *extra,
                "--run-id-file", "run-id", *context["run_options"]]

    def failed(status: str, done: subprocess.CompletedProcess) -> Outcome:
        outcome.status = status
        outcome.detail = last_line(done.stderr) or last_line(done.stdout)
        outcome.seconds = time.monotonic() - started
        return outcome

    done = stage("run", flow_command("run", []))
    if done is None:
        return outcome
    if done.returncode and case.should_resume and not case.should_fail:
        done = stage("resume", flow_command("resume", [case.resume_step] if case.resume_step
                                            else []))
        if done is None:
            return outcome
        if done.returncode:
            return failed("resume", done)
    elif done.returncode and not case.should_fail:
        return failed("run", done)
    elif not done.returncode and case.should_fail:
        outcome.status, outcome.detail = "run", "the flow should have failed but did not"
        return outcome
    run_id_file = workdir / "run-id"
    if not run_id_file.exists():
        outcome.status, outcome.detail = "run", "no run-id file written"
        return outcome
    run_id = run_id_file.read_text().strip()
    for checker in checkers:
        done = stage(f"check-{checker}", [python, "check_flow.py", checker, run_id,
                                          *top_options])
        if done is None:
            return outcome
        if done.returncode:
            return failed("check", done)
    outcome.seconds = time.monotonic() - started
    return outcome


def run_tool(tool: str, python: str, core: Path, workdir: Path, args) -> dict:
    shim = workdir / "shim"
    shim.mkdir(parents=True, exist_ok=True)
    (shim / "sitecustomize.py").write_text(SHIM)
    cases_dir = workdir / tool
    gen = subprocess.run(
        [python, str(Path(__file__).resolve()), "_generate", str(core), str(cases_dir),
         args.context, args.tests, args.graphs],
        env={**base_env({"env": {}}, workdir / "home"),
             "PYTHONPATH": tool_pythonpath(tool, shim, core)},
        capture_output=True, text=True)
    if gen.returncode:
        raise SystemExit(f"{tool}: generating the cases failed:\n{gen.stderr}")
    manifest = json.loads((cases_dir / "manifest.json").read_text())
    context = manifest["context"]
    top_options = [o for o in context["top_options"]
                   if o.split("=", 1)[0] not in args.drop_top_option]
    checkers = [manifest["checks"]["python3-metadata"]["class"]]
    if args.cli_check:
        checkers.append(manifest["checks"]["python3-cli"]["class"])
    cases = [Case(**c) for c in manifest["cases"]]
    if args.only:
        wanted = {name.strip() for name in args.only.split(",") if name.strip()}
        cases = [c for c in cases if c.name in wanted]
    results: dict[str, Outcome] = {}
    for error in manifest["errors"]:
        results[f"{error['test']}/{error['graph']}"] = Outcome("generate", error["error"])

    def one(case: Case) -> tuple[str, Outcome]:
        return case.name, run_case(case, tool, python, shim, core, context, top_options, checkers,
                                   args.timeout)

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for name, outcome in pool.map(one, cases):
            results[name] = outcome
            if args.progress:
                print(f"{tool:9} {outcome.status:8} {name}", file=sys.stderr, flush=True)
    return results


def print_table(results: dict[str, dict[str, Outcome]]) -> None:
    tools = list(results)
    names = sorted({n for r in results.values() for n in r})
    width = max(len(n) for n in names) if names else 10
    print(f"{'case':{width}}  " + "  ".join(f"{t:9}" for t in tools)
          + ("  first failing tool's error" if tools else ""))
    for name in names:
        cells, detail = [], ""
        for tool in tools:
            outcome = results[tool].get(name)
            cells.append(f"{outcome.status if outcome else '-':9}")
            if outcome and outcome.status != "pass" and not detail:
                detail = f"{tool}: {outcome.detail}" if len(tools) > 1 else outcome.detail
        print(f"{name:{width}}  " + "  ".join(cells) + (f"  {detail}" if detail else ""))
    print()
    for tool in tools:
        passed = sum(o.status == "pass" for o in results[tool].values())
        print(f"{tool}: {passed} of {len(results[tool])} cases pass")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_generate":
        core, out, context, tests, graphs = sys.argv[2:7]
        parse = lambda s: {x.strip().lower() for x in s.split(",") if x.strip()}  # noqa: E731
        generate(Path(core), Path(out), context, parse(tests), parse(graphs))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--metaflow-src", type=Path, required=True,
                        help="Metaflow checkout or bare git directory (with test/core)")
    parser.add_argument("--tool", choices=(*TOOLS, "both"), default="headwater")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV,
                        help=f"venv with Metaflow installed (default {DEFAULT_VENV})")
    parser.add_argument("--context", default="python3-all-local",
                        help="context of contexts.json (default python3-all-local)")
    parser.add_argument("--tests", default="", help="comma-separated test class names")
    parser.add_argument("--graphs", default="",
                        help="comma-separated graph names (their \"name\", e.g. single-linear-step)")
    parser.add_argument("--only", default="",
                        help="comma-separated cases (TestClass/graph-name) to run, of those "
                             "--tests and --graphs select")
    parser.add_argument("--jobs", type=int, default=2, help="cases at a time (default 2)")
    parser.add_argument("--timeout", type=float, default=600,
                        help="seconds per stage of a case (default 600)")
    parser.add_argument("--cli-check", action="store_true",
                        help="also run the suite's CliCheck (dump, logs, tag, card commands)")
    parser.add_argument("--drop-top-option", action="append", default=[], metavar="OPT",
                        help="leave this top option of the context out (repeatable)")
    parser.add_argument("--workdir", type=Path, help="where cases run (default: a temp dir)")
    parser.add_argument("--save", type=Path, help="write the results as JSON here")
    parser.add_argument("--progress", action="store_true", help="print each case as it ends")
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="mf-core-suite-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    core = extract(args.metaflow_src.expanduser().resolve(), workdir / "src")
    tools = TOOLS if args.tool == "both" else (args.tool,)
    results = {}
    for tool in tools:
        if (workdir / tool).exists():
            raise SystemExit(f"{workdir / tool} exists: pass a new --workdir")
        results[tool] = run_tool(tool, tool_python(tool, args.venv), core, workdir, args)
    print_table(results)
    print(f"\ncases and their logs: {workdir}")
    if args.save:
        args.save.write_text(json.dumps(
            {tool: {name: asdict(o) for name, o in r.items()} for tool, r in results.items()},
            indent=1))


if __name__ == "__main__":
    main()
