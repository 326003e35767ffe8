"""The states of a task attempt or a run, one vocabulary for everything that shows them: the
``Runner`` (``runner.status``), the inspection commands (``dump``, ``runs``, ``list-runs``)
and cards.

The values are Metaflow's words (its ``Runner.status`` says ``running``, ``successful``,
``failed``), so code written against Metaflow compares them unchanged. Cards say
``succeeded`` for a successful task (their HTML and the card server's index have always
said so); ``card_word`` is that mapping, stated once here.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .client import Task


class Status(str, enum.Enum):
    RUNNING = "running"
    SUCCESSFUL = "successful"
    FAILED = "failed"
    #: A task attempt with no end recorded: still running, or its process died first
    #: (what the Client can tell from the records alone, without a heartbeat).
    NOT_FINISHED = "not finished"

    def __str__(self) -> str:
        return self.value

    @property
    def card_word(self) -> str:
        """How cards spell the state."""
        return "succeeded" if self is Status.SUCCESSFUL else self.value

    @classmethod
    def ended(cls, successful: bool) -> "Status":
        """The state of something that has finished."""
        return cls.SUCCESSFUL if successful else cls.FAILED

    @classmethod
    def of_task(cls, task: "Task") -> "Status":
        """A task attempt's state from its records (``finished``, ``successful``)."""
        return cls.ended(task.successful) if task.finished else cls.NOT_FINISHED
