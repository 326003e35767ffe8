"""Bringing the whole dev stack up, reporting on it, and taking it down.

Ports: the service listens on ``--port`` (default 8080), Postgres on the next port, the
storage emulator (Azurite or moto) on the one after. ``up`` records each server in the state
file as soon as it runs, so an interrupted or failed ``up`` stops exactly what it started.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import azurite, interrupts, moto, postgres, process, profile, service
from .errors import DevStackError
from .state import Cloud, Component, ProcessRecord, StackDir, StackState

DEFAULT_PORT = 8080
Echo = Callable[[str], None]


@dataclass
class Ports:
    service: int
    postgres: int
    storage: int

    @classmethod
    def from_base(cls, port: int) -> "Ports":
        return cls(port, port + 1, port + 2)

    def of(self, component: Component) -> int:
        return {Component.SERVICE: self.service, Component.POSTGRES: self.postgres,
                Component.AZURITE: self.storage, Component.MOTO: self.storage}[component]


def components(state: StackState) -> list[Component]:
    """The servers of a stack, in start order."""
    storage = Component.AZURITE if state.cloud == Cloud.AZURE.value else Component.MOTO
    database = [] if state.external_database else [Component.POSTGRES]
    return [*database, Component.SERVICE, storage]


def _running(state: StackState | None) -> dict[str, ProcessRecord]:
    if state is None:
        return {}
    return {name: rec for name, rec in state.processes.items() if process.alive(rec.pid)}


def up(stack: StackDir, cloud: Cloud, port: int, database_url: str | None, profile_name: str,
       echo: Echo) -> StackState:
    """Start what is not running yet; a stack already running is reported, not changed.
    Ctrl-C or SIGTERM meanwhile stops what this call started (``interrupts.py``)."""
    with interrupts.handled():
        return _up(stack, cloud, port, database_url, profile_name, echo)


def _up(stack: StackDir, cloud: Cloud, port: int, database_url: str | None, profile_name: str,
        echo: Echo) -> StackState:
    state = stack.load()
    running = _running(state)
    if state is not None and running:
        if state.cloud != cloud.value:
            raise DevStackError(f"the dev stack in {stack.root} is running with --cloud "
                                f"{state.cloud}", "run `headwater dev down` first, or use "
                                                  "another --dir")
        if database_url and database_url != state.database_url:
            raise DevStackError(f"the dev stack in {stack.root} is running with another "
                                f"database", "run `headwater dev down` first")
        port, database_url = state.port, state.database_url
    state = StackState(cloud=cloud.value, port=port,
                       database_url=database_url if database_url else None,
                       processes=dict(running))
    ports = Ports.from_base(port)
    path = profile.target(profile_name)
    profile.check_writable(path, stack)
    wanted = components(state)
    if all(c.value in running for c in wanted):
        for c in wanted:
            rec = running[c.value]
            echo(f"{c.value:<9} already running on {process.LOOPBACK}:{rec.port} "
                 f"(pid {rec.pid})")
        echo(f"profile   {path}")
        echo("nothing changed")
        return state
    for c in wanted:
        if c.value not in running:
            process.require_free_port(ports.of(c), c.value, "--port N (the service's port; "
                                      "Postgres and storage use the next two)")
    started: list[Component] = []
    # Owner only: the emulators' data includes secrets (moto's recording holds Secrets
    # Manager values). As root the Postgres user may traverse it (see postgres.py).
    stack.root.mkdir(mode=0o700, parents=True, exist_ok=True)
    profile.write_secrets(stack, cloud, ports.storage)
    try:
        for c in wanted:
            if c.value in running:
                rec = running[c.value]
                echo(f"{c.value:<9} already running on {process.LOOPBACK}:{rec.port} "
                     f"(pid {rec.pid})")
                continue
            began = time.monotonic()
            detail = _start(c, stack, state, ports, echo)
            with interrupts.deferred():  # recorded in the state file, or stopped below
                started.append(c)
                stack.save(state)
            rec = state.processes[c.value]
            echo(f"{c.value:<9} started on {process.LOOPBACK}:{rec.port} (pid {rec.pid}"
                 f"{', ' + detail if detail else ''})  {time.monotonic() - began:.1f} s")
        profile.write(path, profile.build(stack, cloud, ports.service, ports.storage), stack)
        echo(f"profile   {path}")
    except BaseException:
        # Ctrl-C or a failure: stop what this call started, leave the rest as it was.
        with interrupts.deferred():  # a second Ctrl-C must not cut the clean-up short
            for c in reversed(started):
                _stop(c, state.processes.pop(c.value))
            # a server interrupted between its start and ``started``
            process.stop_strays({rec.pid for rec in running.values()})
            state.processes = dict(running)
            if state.processes:
                stack.save(state)
            else:
                stack.forget()
        raise
    return state


def _start(component: Component, stack: StackDir, state: StackState, ports: Ports,
           echo: Echo) -> str:
    """Start one server and record it in ``state``; returns a detail for the progress line."""
    log = stack.log(component)
    port = ports.of(component)
    detail = ""
    if component is Component.POSTGRES:
        pid = postgres.start(stack.root, port, log)
        state.processes[component.value] = ProcessRecord(pid, port)
    elif component is Component.SERVICE:
        url = state.database_url or postgres.url(ports.postgres)
        began = time.monotonic()
        applied = service.upgrade_schema(url)
        echo(f"{'schema':<9} {'applied ' + ', '.join(applied) if applied else 'up to date'}"
             f"  {time.monotonic() - began:.1f} s")
        key = service.api_key(stack.api_key_path)
        pid = service.start(url, port, stack.api_key_path, log)
        state.processes[component.value] = ProcessRecord(pid, port)
        detail = f"API key {service.shown(key)} in {stack.api_key_path}"
    elif component is Component.AZURITE:
        if azurite.needs_install(stack.npm_prefix):
            echo(f"{'azurite':<9} installing {azurite.VERSION} into {stack.npm_prefix} "
                 f"(once; npm)")
        began = time.monotonic()
        binary, installed = azurite.executable(stack.npm_prefix, stack.root / "logs" /
                                               "azurite-install.log")
        if installed:
            echo(f"{'azurite':<9} installed  {time.monotonic() - began:.1f} s")
        pid = azurite.start(binary, stack.data(component), port, log)
        state.processes[component.value] = ProcessRecord(pid, port)
        detail = f"container {azurite.CONTAINER}"
    else:
        pid, replayed = moto.start(stack.data(component), port, log)
        state.processes[component.value] = ProcessRecord(pid, port)
        detail = f"bucket {moto.BUCKET}" + (f", {replayed} recorded writes replayed"
                                            if replayed else "")
    return detail


def _stop(component: Component | str, rec: ProcessRecord) -> bool:
    if Component(component) is Component.POSTGRES:
        return postgres.stop(rec.pid)
    return process.stop(rec.pid)


@dataclass
class ComponentStatus:
    name: str
    pid: int | None
    port: int | None
    running: bool
    healthy: bool
    data_bytes: int


def status(stack: StackDir) -> tuple[StackState | None, list[ComponentStatus]]:
    state = stack.load()
    if state is None:
        return None, []
    rows = []
    for c in components(state):
        rec = state.processes.get(c.value)
        running = rec is not None and process.alive(rec.pid)
        rows.append(ComponentStatus(c.value, rec.pid if rec else None, rec.port if rec else None,
                                    running, running and _healthy(c, rec),
                                    process.folder_size(stack.data(c))))
    return state, rows


def _healthy(component: Component, rec: ProcessRecord | None) -> bool:
    if rec is None:
        return False
    try:
        if component is Component.SERVICE:
            return process.http_ok(service.url(rec.port) + "/ping")()
        if component is Component.MOTO:
            return process.http_ok(moto.endpoint(rec.port) + "/moto-api/")()
        return process.port_in_use(rec.port)
    except OSError:
        return False


def down(stack: StackDir, purge: bool, profile_name: str, echo: Echo) -> None:
    """Stop what ``up`` started (storage, service, Postgres); ``purge`` also deletes the
    data, the secrets files and the stack's profile (not the Azurite install)."""
    state = stack.load()
    if state is None:
        echo(f"nothing running from {stack.root}")
    else:
        for c in reversed(components(state)):
            rec = state.processes.pop(c.value, None)
            if rec is None:
                continue
            was = _stop(c, rec)
            echo(f"{c.value:<9} {'stopped' if was else 'was not running'} (pid {rec.pid})")
            stack.save(state)
        stack.forget()
    if purge:
        for name in ("postgres", "service", "azurite", "moto", "aws", "logs"):
            shutil.rmtree(stack.root / name, ignore_errors=True)
        if profile.remove(profile.target(profile_name), stack):
            echo(f"removed profile {profile.target(profile_name)}")
        echo(f"purged the data in {stack.root} (kept the Azurite install in "
             f"{stack.npm_prefix})")


def log_path(stack: StackDir, component: str) -> Path:
    try:
        return stack.log(component)
    except ValueError:
        names = ", ".join(c.value for c in Component)
        raise DevStackError(f"no component {component!r}", f"use one of: {names}") from None
