"""The fixed vocabularies of the UI: run, task and step status, log streams; and how a
task's and a step's status follow from metadata (``queries.py`` says how a run's does)."""

from __future__ import annotations

import enum


class RunStatus(str, enum.Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class TaskStatus(str, enum.Enum):
    PENDING = "pending"  # created, no attempt started yet (or a step not reached yet)
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class LogStream(str, enum.Enum):
    STDOUT = "stdout"
    STDERR = "stderr"


def task_status(task: dict, run: RunStatus) -> TaskStatus:
    """A task's status from its latest attempt (``queries.RUN_TASKS`` row). An attempt that
    never finished in a run that failed counts as failed: nothing will finish it."""
    if task.get("ok") is not None:
        return TaskStatus.SUCCEEDED if task["ok"] == "True" else TaskStatus.FAILED
    if task.get("attempt") is None:
        return TaskStatus.FAILED if run is RunStatus.FAILED else TaskStatus.PENDING
    return TaskStatus.FAILED if run is RunStatus.FAILED else TaskStatus.RUNNING


def step_status(counts: dict[str, int]) -> TaskStatus:
    """A step is failed if any task failed, running while any runs or waits, else done."""
    if counts.get(TaskStatus.FAILED.value):
        return TaskStatus.FAILED
    if counts.get(TaskStatus.RUNNING.value) or counts.get(TaskStatus.PENDING.value):
        return TaskStatus.RUNNING
    return TaskStatus.SUCCEEDED
