"""The one vocabulary of task and run states, and its two spellings."""

from __future__ import annotations

import json

from headwater.cards.task_header import status_badge
from headwater.cards.task_info import TaskInfo
from headwater.status import Status


def test_values_are_metaflows_runner_words():
    assert [s.value for s in Status] == ["running", "successful", "failed", "not finished"]
    assert Status.SUCCESSFUL == "successful" and f"{Status.FAILED}" == "failed"
    assert json.dumps({"status": Status.RUNNING}) == '{"status": "running"}'


def test_cards_say_succeeded():
    assert [s.card_word for s in Status] == ["running", "succeeded", "failed", "not finished"]


def test_ended():
    assert Status.ended(True) is Status.SUCCESSFUL and Status.ended(False) is Status.FAILED


def test_card_badges_are_unchanged():
    task = TaskInfo("F", "1", "start", "2")
    assert status_badge(task) == '<span class="hw-badge live" data-status="running">running</span>'
    task.ok = True
    assert status_badge(task) == '<span class="hw-badge ok" data-status="ok">succeeded</span>'
    task.ok = False
    assert status_badge(task) == '<span class="hw-badge bad" data-status="failed">failed</span>'
