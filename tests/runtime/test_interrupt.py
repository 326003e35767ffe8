"""Ctrl-C stops every task cleanly and leaves a run that resume can continue.

Runs get their own session (``start_new_session``), and Ctrl-C is sent as a terminal sends it:
SIGINT to the run's process group. A task process moves to a group of its own but stays in
the run's session, so "nothing left behind" is checked by session id in ``/proc``.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from headwater import Flow, interrupts

FLOWS = Path(__file__).parent / "flows"
# Only for a run that hangs: every wait below ends on an event long before.
HANG_SECONDS = 120


class Run:
    """A flow run in its own session, its stdout read line by line as it comes."""

    def __init__(self, *argv: str):
        self.proc = subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stdout: list[str] = []
        self.stderr_lines: list[str] = []
        self.readers = [threading.Thread(target=self._read_stdout, daemon=True),
                        threading.Thread(target=self._read_stderr, daemon=True)]
        for reader in self.readers:
            reader.start()

    def _read_stdout(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _read_stderr(self) -> None:
        self.stderr_lines.extend(self.proc.stderr)

    def wait_for_lines(self, text: str, count: int = 1) -> None:
        """Until ``count`` stdout lines containing ``text`` have come."""
        seen = 0
        while seen < count:
            line = self.lines.get(timeout=HANG_SECONDS)
            assert line is not None, f"the run ended before printing {text!r}:\n{self.finish()}"
            self.stdout.append(line)
            seen += text in line

    def ctrl_c(self) -> None:
        os.killpg(self.proc.pid, signal.SIGINT)

    def finish(self) -> str:
        """Wait for the run to exit and its output to end; returns its stderr."""
        self.proc.wait(timeout=HANG_SECONDS)
        for reader in self.readers:
            reader.join(HANG_SECONDS)
        while not self.lines.empty():
            line = self.lines.get_nowait()
            if line is not None:
                self.stdout.append(line)
        return "".join(self.stderr_lines)

    def left_behind(self) -> list[str]:
        """Processes still alive in the run's session (pid and command line)."""
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    command = f.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue  # ended meanwhile
            state, session = fields[0], int(fields[3])
            if session == self.proc.pid and state != "Z":
                found.append(f"{entry}: {command}")
        return found


def test_ctrl_c_stops_tasks_and_run_is_resumable(tmp_path):
    marker = tmp_path / "fixed"
    run = Run(str(FLOWS / "faults_flow.py"), "run", "--fail", "sleep", "--marker", str(marker))
    run.wait_for_lines("middle attempt 0 armed=True")  # the step is in its 60 s sleep
    run.ctrl_c()
    err = run.finish()
    assert run.proc.returncode != 0
    assert "interrupted: stopped every task." in err
    assert "resume --origin-run-id" in err
    assert run.left_behind() == []
    marker.touch()
    subprocess.run([sys.executable, str(FLOWS / "faults_flow.py"), "resume"], check=True,
                   capture_output=True, timeout=HANG_SECONDS)
    assert Flow("FaultsFlow").latest_run.successful


FAN_FLOW = """
    import os, signal
    from headwater import FlowSpec, step

    class FanFlow(FlowSpec):
        @step
        def start(self):
            self.items = list(range(400))
            self.next(self.work, foreach="items")

        @step
        def work(self):
            if self.input == 20:  # Ctrl-C, as the terminal sends it, while tasks start
                os.killpg(os.getpgid(os.getppid()), signal.SIGINT)
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        FanFlow()
"""
# The scheduler forks a task for every item, so the Ctrl-C often arrives during a fork.
# Before Ctrl-C was held across forks (interrupts.py), one in three of these runs lost it
# and went on to the end; ten rounds make such a regression fail this test almost surely.
# The Ctrl-C comes from a task, not from this test, so it is not timed by the scheduler's
# own output (a Ctrl-C sent on reading that output always found it between forks).
ROUNDS = 10


def test_ctrl_c_while_a_foreach_starts_tasks_is_never_lost(write_flow):
    flow = write_flow(FAN_FLOW)
    for round_ in range(ROUNDS):
        run = Run(str(flow), "run", "--max-workers", "4", "--max-num-splits", "1000")
        err = run.finish()
        assert "interrupted: stopped every task." in err, (
            f"round {round_}: the Ctrl-C was lost (exit code {run.proc.returncode}):\n{err}")
        assert run.proc.returncode != 0
        assert "Exception ignored" not in err
        assert run.left_behind() == []


@pytest.fixture
def main_thread_sigint():
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers can only be set from the main thread")
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT is not Python's default handler in this process")


def test_a_swallowed_ctrl_c_is_raised_again_by_check(main_thread_sigint):
    with interrupts.watched():
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            pass  # as the hooks run inside os.fork() and finalizers do: "Exception ignored"
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()
        interrupts.check()  # raised once: acted on


def test_a_ctrl_c_inside_deferred_is_raised_when_the_block_ends(main_thread_sigint):
    finished = False
    with interrupts.watched():
        with pytest.raises(KeyboardInterrupt):
            with interrupts.deferred():
                signal.raise_signal(signal.SIGINT)
                finished = True
    assert finished
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
