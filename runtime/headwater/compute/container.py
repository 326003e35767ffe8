"""The container entry point: what a Kubernetes Job, an AWS Batch job or a deployed
workflow's step runs inside the task image.

    python -m headwater.compute.container --package-key KEY --package-sha SHA \\
        --headwater-version 0.1.0 --flow-file flow.py --spec '{...TaskSpec...}'

It reads the datastore and metadata settings from the environment (``container_environment``
builds it from the profile: setting names and values, never a secret; credentials come from
workload identity / IRSA / the job role or from the cluster secrets a Job mounts), checks
that the image's headwater is the one that made the code package, downloads and unpacks
the package, and runs the task with the same entry point the local scheduler forks into
(the flow's hidden ``step`` command, i.e. ``TaskRunner``). The task's stdout and stderr are
copied to this process's output (what ``kubectl logs`` and CloudWatch show) and stored as the
attempt's log files in the datastore, every ``LOG_UPLOAD_SECONDS`` while it runs and at the
end. The exit code is the task's (``128 + signal`` when it was killed).

``container_command`` and ``container_environment`` are the two functions the compute
backends and the deployers share.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from typing import TYPE_CHECKING, BinaryIO, Iterable, Mapping

from ..log_times import LineClock

if TYPE_CHECKING:
    from ..package import CodePackage
    from ..settings import Settings
    from ..task import TaskSpec

LOG_UPLOAD_SECONDS = 30.0
# Exit code when the task never started (bad settings, version mismatch, no package).
SETUP_FAILED_EXIT = 70

# Profile keys a task needs to reach the datastore, the metadata service and the secrets
# backend. No key in settings.SECRET_KEYS is ever among them.
CONTAINER_KEYS: tuple[str, ...] = (
    "METAFLOW_DEFAULT_DATASTORE", "METAFLOW_DEFAULT_METADATA",
    "METAFLOW_DATASTORE_SYSROOT_AZURE", "METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT",
    "METAFLOW_CARD_AZUREROOT",
    "METAFLOW_DATASTORE_SYSROOT_S3", "METAFLOW_CARD_S3ROOT", "METAFLOW_S3_ENDPOINT_URL",
    "METAFLOW_SERVICE_URL", "METAFLOW_SERVICE_RETRY_COUNT", "METAFLOW_SERVICE_HEADERS",
    "METAFLOW_SERVICE_AUTH_SECRET_ID", "METAFLOW_SERVICE_CA_CERT",
    "METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE", "METAFLOW_AZURE_KEY_VAULT_PREFIX",
    "METAFLOW_AWS_SECRETS_MANAGER_DEFAULT_REGION", "METAFLOW_DEFAULT_SECRETS_ROLE",
    "METAFLOW_USER",
)


def container_environment(settings: "Settings") -> dict[str, str]:
    """The environment a task container gets: the profile's datastore, metadata and secrets
    settings. Inside the cluster the service is reached at ``METAFLOW_SERVICE_INTERNAL_URL``
    when the profile has one."""
    from ..settings import SECRET_KEYS

    env: dict[str, str] = {}
    for key in CONTAINER_KEYS:
        value = settings.get(key)
        if value and key not in SECRET_KEYS:
            env[key] = value
    internal = settings.get("METAFLOW_SERVICE_INTERNAL_URL")
    if internal:
        env["METAFLOW_SERVICE_URL"] = internal
    env["PYTHONUNBUFFERED"] = "1"
    return env


def container_command(package: "CodePackage", spec: "TaskSpec | None",
                      with_specs: Iterable[str] = (),
                      config_files: Mapping[str, str] | None = None,
                      python: str = "python", flow_args: list[str] | None = None) -> list[str]:
    """The command that runs attempt ``spec`` from ``package`` in a container, or, for a
    deployed task (``spec`` None), the flow command ``flow_args`` (``deployed-step ...``).
    ``with_specs`` are the run's ``--with`` options; ``config_files`` maps a Config's name to
    its file's path inside the package."""
    command = [python, "-m", "headwater.compute.container",
               "--package-key", package.key, "--package-sha", package.sha,
               "--headwater-version", package.headwater_version,
               "--flow-file", package.flow_file]
    for spec_text in with_specs:
        command += ["--with", spec_text]
    for name, path in sorted((config_files or {}).items()):
        command += ["--config", name, path]
    if spec is not None:
        return command + ["--spec", json.dumps(spec.to_json(), separators=(",", ":"),
                                               sort_keys=True)]
    return command + ["--", *(flow_args or [])]


# --- inside the container ----------------------------------------------------------------


class LogTee:
    """Copies one stream of the task to this process's stream and keeps it for the
    datastore's log file of the attempt."""

    def __init__(self, out: BinaryIO):
        self.out = out
        self.data = bytearray()
        self.times = bytearray()  # the sidecar of line times (log_times.py)
        self.clock = LineClock()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def write(self, chunk: bytes) -> None:
        with self.lock:
            self.data += chunk
            self.times += self.clock.stamps(chunk)
        self.out.write(chunk)
        self.out.flush()

    def start(self, source: io.BufferedIOBase, result_line: bool = False) -> None:
        """Copy ``source`` as it comes until it closes. With ``result_line`` a line that looks
        like the ``step`` command's result (JSON for its caller) is held back, and dropped if
        it is the last one (a local run's log does not have it either)."""

        def pump() -> None:
            partial, pending = b"", None  # pending: a complete line that looks like a result
            for chunk in iter(lambda: source.read1(65536), b""):
                if not result_line:
                    self.write(chunk)
                    continue
                *complete, partial = (partial + chunk).split(b"\n")
                for line in complete:
                    if pending is not None:  # more output followed: it was not the result
                        self.write(pending + b"\n")
                        pending = None
                    if _is_result(line):
                        pending = line
                    else:
                        self.write(line + b"\n")
                if partial and not partial.startswith(b"{"):
                    self.write(partial)  # a partial line streams at once
                    partial = b""
            if pending is not None and partial:
                self.write(pending + b"\n")
            if partial:
                self.write(partial)

        self.thread = threading.Thread(target=pump, daemon=True)
        self.thread.start()

    def snapshot(self) -> tuple[bytes, bytes]:
        """The log so far and its line times."""
        with self.lock:
            return bytes(self.data), bytes(self.times)


class AttemptLogs:
    """The attempt's stdout and stderr, stored in the datastore now and then and at the end."""

    def __init__(self, store, attempt: int, tees: dict[str, LogTee]):
        self.store, self.attempt, self.tees = store, attempt, tees
        self.saved: dict[str, int] = {}
        self.lock = threading.Lock()

    def save(self) -> None:
        with self.lock:
            for stream, tee in self.tees.items():
                data, times = tee.snapshot()
                if self.saved.get(stream) != len(data):
                    try:
                        self.store.save_log(self.attempt, stream, data, times)
                        self.saved[stream] = len(data)
                    except Exception as exc:  # a failed log upload must not fail the task
                        sys.stderr.write(f"headwater: could not store the {stream} log: "
                                         f"{exc}\n")

    def save_periodically(self, stop: threading.Event) -> None:
        def loop() -> None:
            while not stop.wait(LOG_UPLOAD_SECONDS):
                self.save()

        threading.Thread(target=loop, daemon=True).start()


def _is_result(line: bytes) -> bool:
    try:
        value = json.loads(line)
    except ValueError:
        return False
    return isinstance(value, dict) and {"ok", "targets", "error"} <= set(value)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m headwater.compute.container",
                                     description="Run one task attempt from a code package.")
    parser.add_argument("--package-key", required=True)
    parser.add_argument("--package-sha", required=True)
    parser.add_argument("--headwater-version", required=True)
    parser.add_argument("--flow-file", required=True)
    parser.add_argument("--with", dest="with_specs", action="append", default=[])
    parser.add_argument("--config", dest="configs", nargs=2, action="append", default=[])
    parser.add_argument("--spec", help="The attempt to run (remote compute).")
    parser.add_argument("--workdir", default=None, help="Where to unpack (default: a new "
                                                        "temporary folder).")
    parser.add_argument("flow_args", nargs=argparse.REMAINDER,
                        help="Instead of --spec: the flow command to run after '--' (a "
                             "deployed task: deployed-step ...), which names its attempt "
                             "itself in $HEADWATER_SPEC_FILE")
    args = parser.parse_args(argv)
    if args.flow_args[:1] == ["--"]:
        args.flow_args = args.flow_args[1:]
    if bool(args.spec) == bool(args.flow_args):
        parser.error("give either --spec or a flow command after --")
    return args


def run(argv: list[str]) -> int:
    """Run the attempt; returns the exit code."""
    from .. import __version__
    from ..datastore import get_backend
    from ..exceptions import HeadwaterException
    from ..package import CodePackage, download_package
    from ..settings import Settings
    from ..task import TaskSpec
    from .errors import ImageVersionMismatch

    args = _parse(argv)
    spec = TaskSpec.from_json(json.loads(args.spec)) if args.spec else None
    stdout, stderr = sys.stdout.buffer, sys.stderr.buffer
    tees = {"stdout": LogTee(stdout), "stderr": LogTee(stderr)}
    records: _AttemptRecords | None = None
    try:
        settings = Settings()
        backend = get_backend(settings)
        package = CodePackage(args.package_sha, args.package_key, 0, __version__,
                              args.flow_file)
        records = _AttemptRecords(settings, backend, package, tees)
        if spec is not None:
            records.attempt_is(spec)
        if args.headwater_version != __version__:
            raise ImageVersionMismatch(
                f"the image has headwater {__version__}, but the code package was made by "
                f"headwater {args.headwater_version}",
                f"build the task image from the same headwater version "
                f"(infra/images/task.Dockerfile) or install headwater=={__version__} locally")
        workdir = args.workdir or tempfile.mkdtemp(prefix="headwater-task-")
        manifest = download_package(backend, args.package_key, args.package_sha, workdir)
        if manifest.get("headwater_version") != __version__:
            raise ImageVersionMismatch(
                f"the image has headwater {__version__}, but the code package was made by "
                f"headwater {manifest.get('headwater_version')}",
                "build the task image from the same headwater version")
        if spec is not None:
            records.register_package()
    except HeadwaterException as exc:
        # One line, so it is also the last line a backend shows as the failure's reason.
        line = f"{exc.headline}: {exc.message}" + (f" (fix: {exc.fix})" if exc.fix else "")
        tees["stderr"].write((line + "\n").encode())
        if records is not None:
            records.save_logs()
        return SETUP_FAILED_EXIT

    command = [sys.executable, os.path.join(workdir, args.flow_file)]
    for spec_text in args.with_specs:
        command += ["--with", spec_text]
    for name, path in args.configs:
        command += ["--config", name, path]
    child_env = dict(os.environ)
    if spec is not None:
        command += ["step", "--spec", args.spec]
    else:  # a deployed task: it finds its attempt and writes it where we can read it
        command += args.flow_args
        child_env[SPEC_FILE_VARIABLE] = records.spec_file = os.path.join(workdir,
                                                                         ".attempt.json")
    # Same process group: whatever stops the container's processes stops the task too.
    child = subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, env=child_env,
                             stderr=subprocess.PIPE)
    for stream, tee in tees.items():
        tee.start(getattr(child, stream), result_line=stream == "stdout" and spec is not None)

    def forward(signum, frame) -> None:  # the Job was deleted or the job terminated
        try:
            child.send_signal(signum)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    stop = threading.Event()
    records.save_periodically(stop)
    code = child.wait()
    for tee in tees.values():
        if tee.thread is not None:
            tee.thread.join(10)
    stop.set()
    records.save_logs()
    return 128 - code if code < 0 else code


# A deployed task (whose attempt only it can work out) writes its TaskSpec as JSON to the
# file this variable names, before it runs the step.
SPEC_FILE_VARIABLE = "HEADWATER_SPEC_FILE"


class _AttemptRecords:
    """What the container records for its attempt: the code package's metadata and the
    logs. For a deployed task the attempt becomes known only once the task has written it
    (``SPEC_FILE_VARIABLE``); until then logs are kept in memory."""

    def __init__(self, settings, backend, package, tees: dict[str, LogTee]):
        self.settings, self.backend, self.package, self.tees = settings, backend, package, tees
        self.spec: TaskSpec | None = None
        self.logs: AttemptLogs | None = None
        self.spec_file: str | None = None
        self.package_registered = False

    def attempt_is(self, spec) -> None:
        from ..datastore.task_store import TaskDataStore

        self.spec = spec
        store = TaskDataStore(self.backend, spec.flow_name, spec.run_id, spec.step_name,
                              spec.task_id)
        self.logs = AttemptLogs(store, spec.attempt, self.tees)

    def register_package(self) -> None:
        from ..metadata import get_provider

        spec = self.spec
        assert spec is not None  # called once the attempt is known
        entries = self.package.metadata(self.backend.TYPE, self.backend.root)
        for entry in entries:
            entry.tags = [f"attempt_id:{spec.attempt}"]
        get_provider(self.settings).register_metadata(
            spec.flow_name, spec.run_id, spec.step_name, spec.task_id, spec.user, entries)
        self.package_registered = True

    def _resolve(self) -> None:
        """Pick up a deployed task's attempt once it has written it."""
        if self.spec is not None or not self.spec_file or not os.path.exists(self.spec_file):
            return
        from ..task import TaskSpec

        try:
            with open(self.spec_file) as f:
                spec = TaskSpec.from_json(json.load(f))
        except (OSError, ValueError):
            return  # being written: next time
        self.attempt_is(spec)
        try:
            self.register_package()
        except Exception as exc:  # the task's own records matter more than this row
            sys.stderr.write(f"headwater: could not record the code package: {exc}\n")

    def save_logs(self) -> None:
        self._resolve()
        if self.logs is not None:
            self.logs.save()

    def save_periodically(self, stop: threading.Event) -> None:
        def loop() -> None:
            while not stop.wait(1.0 if self.spec is None else LOG_UPLOAD_SECONDS):
                self.save_logs()

        threading.Thread(target=loop, daemon=True).start()


def main() -> None:
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
