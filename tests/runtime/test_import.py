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
