"""`import headwater` stays light: no cloud SDK, Pulumi, web framework or CLI library."""

import json
import subprocess
import sys

HEAVY = ("click", "cloudpickle", "numpy", "azure", "boto3", "botocore", "pulumi", "kubernetes",
         "fastapi", "starlette", "uvicorn", "psycopg", "urllib3", "httpx")


def loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json\n"
                          "print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True).stdout
    return {name.split(".")[0] for name in json.loads(out)}


def test_import_headwater_loads_nothing_heavy():
    assert not loaded_after("import headwater") & set(HEAVY)


def test_writing_a_flow_loads_nothing_heavy():
    code = ("from headwater import FlowSpec, step, Parameter, Config, current, retry, catch, "
            "timeout, resources, project")
    assert not loaded_after(code) & set(HEAVY)


def run_code(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_star_import_gives_every_name_in_all():
    proc = run_code("from headwater import *\nimport headwater\n"
                    "missing = [n for n in headwater.__all__ if n not in globals()]\n"
                    "assert not missing, missing\nprint('ok')")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_from_headwater_import_current_is_the_object_after_the_module_was_imported():
    # task.py and decorators import the module headwater.current first; the package
    # attribute must still be the object, not the module
    proc = run_code("import headwater.current, headwater.task\n"
                    "from headwater import current\n"
                    "import headwater\n"
                    "print(type(current).__name__, type(headwater.current).__name__, "
                    "current.flow_name, current.is_running_flow)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["Current", "Current", "None", "False"]


def test_metaflow_exception_module_name_re_exports_the_hierarchy():
    import headwater.exceptions as ours
    from headwater.exception import (MetaflowDataMissing, MetaflowException,
                                     MetaflowInvalidPathspec, MetaflowNamespaceMismatch,
                                     MetaflowNotFound, MissingInMergeArtifactsException,
                                     TaggingException, UnhandledInMergeArtifactsException)
    import headwater.exception as exception

    assert MetaflowException is ours.HeadwaterException
    assert MetaflowNotFound is ours.ObjectNotFound
    assert MetaflowNamespaceMismatch is ours.NamespaceMismatch
    assert MetaflowInvalidPathspec is ours.InvalidPathspec
    assert MetaflowDataMissing is ours.DataNotFound
    assert UnhandledInMergeArtifactsException is ours.MergeArtifactsError
    assert MissingInMergeArtifactsException is ours.MergeArtifactsError
    assert issubclass(TaggingException, MetaflowException)
    # every class of the hierarchy is there too, under its own name
    for name, value in vars(ours).items():
        if isinstance(value, type) and issubclass(value, ours.HeadwaterException):
            assert getattr(exception, name) is value, name
    assert set(exception.__all__) >= {"MetaflowException", "HeadwaterException", "ObjectNotFound"}
    # Metaflow's name for a failed command, which step code raises
    assert issubclass(exception.ExternalCommandFailed, MetaflowException)


def test_metaflow_names_catch_what_headwater_raises():
    from headwater import Flow
    from headwater.exception import MetaflowNotFound

    try:
        Flow("NoSuchFlowAnywhere")
    except MetaflowNotFound as exc:
        assert "NoSuchFlowAnywhere" in str(exc)
    else:
        raise AssertionError("no error")
