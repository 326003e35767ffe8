"""IncludeFile: the value is the file's content, read once when the run starts and stored
with the run, so every task, a resume and the Client see the same bytes."""

from __future__ import annotations

import pytest

from headwater import Flow, IncludeFile
from headwater.exceptions import ParameterError

FLOW = """
    import os
    from headwater import FlowSpec, IncludeFile, step

    class IncludeFlow(FlowSpec):
        text = IncludeFile("text", default="notes.txt", help="some notes")
        blob = IncludeFile("blob", is_text=False, default="notes.txt")

        @step
        def start(self):
            self.seen = self.text
            self.next(self.end)

        @step
        def end(self):
            if os.environ.get("FAIL_END"):
                raise RuntimeError("end fails until fixed")
            self.seen_in_end = self.text
            self.blob_type = type(self.blob).__name__

    if __name__ == "__main__":
        IncludeFlow()
"""


def test_convert_reads_text_or_bytes(tmp_path):
    path = tmp_path / "data.txt"
    path.write_bytes("héllo\n".encode("utf-8"))
    assert IncludeFile("data").convert(str(path)) == "héllo\n"
    assert IncludeFile("data", is_text=False).convert(str(path)) == "héllo\n".encode()
    assert IncludeFile("data", encoding="latin-1").convert(str(path)) == "hÃ©llo\n"


def test_missing_or_undecodable_file_is_a_parameter_error(tmp_path):
    with pytest.raises(ParameterError) as info:
        IncludeFile("my_data").convert(str(tmp_path / "nope.csv"))
    assert info.value.message == f"file {tmp_path / 'nope.csv'} given for --my-data does not exist"
    binary = tmp_path / "bin"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ParameterError) as info:
        IncludeFile("my_data").convert(str(binary))
    assert "is not utf-8 text" in info.value.message and "is_text=False" in info.value.fix


def test_run_and_resume_see_the_bytes_of_the_run_start(run_flow, write_flow, tmp_path):
    flow = write_flow(FLOW)
    (tmp_path / "notes.txt").write_text("first version\n")
    other = tmp_path / "other.txt"
    other.write_text("given on the command line\n")
    failed = run_flow(flow, "run", "--text", other, env={"FAIL_END": "1"}, cwd=tmp_path,
                      check=False)
    assert failed.returncode == 1
    origin = Flow("IncludeFlow").latest_run
    assert origin["start"].task.data.seen == "given on the command line\n"

    other.write_text("changed after the run started\n")
    (tmp_path / "notes.txt").unlink()  # a resume must not need the files any more
    run_flow(flow, "resume", cwd=tmp_path)
    run = Flow("IncludeFlow").latest_run
    assert run.id != origin.id and run.successful
    assert run["end"].task.data.seen_in_end == "given on the command line\n"
    assert run.data.blob_type == "bytes"
    assert run["end"].task.data.blob == b"first version\n"
    # the content is stored once, content-addressed: the resume refers to the same blob
    assert (run["end"].task.artifacts.text.sha
            == origin["start"].task.artifacts.text.sha)


def test_missing_file_on_the_command_line_is_one_line(run_flow, write_flow, tmp_path):
    flow = write_flow(FLOW)
    (tmp_path / "notes.txt").write_text("x")
    proc = run_flow(flow, "run", "--text", "absent.txt", cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "file absent.txt given for --text does not exist" in proc.stderr
    help_text = run_flow(flow, "run", "--help", cwd=tmp_path).stdout
    assert "--text PATH" in help_text and "some notes" in help_text
