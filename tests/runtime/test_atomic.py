"""headwater.atomic: a write that fails midway leaves the old content and no temporary file."""

from __future__ import annotations

import os

import pytest

from headwater.atomic import TEMP_PREFIX, atomic_write, replacing, write_atomic


class Crash(Exception):
    pass


def _leftovers(folder) -> list[str]:
    return [n for n in os.listdir(folder) if n.startswith(TEMP_PREFIX)]


def test_write_replaces_and_creates_the_folder(tmp_path):
    target = tmp_path / "new" / "deeper" / "file.json"
    write_atomic(target, "first")
    write_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    assert _leftovers(target.parent) == []
    assert (target.stat().st_mode & 0o777) == 0o600  # as the temporary file was made


def test_permissions_are_set_before_the_rename(tmp_path):
    target = tmp_path / "profile.json"
    write_atomic(target, "{}", permissions=0o644)
    assert (target.stat().st_mode & 0o777) == 0o644


@pytest.mark.parametrize("error", [Crash, KeyboardInterrupt])
def test_an_exception_mid_write_keeps_the_old_content(tmp_path, error):
    target = tmp_path / "file.txt"
    target.write_text("old")
    with pytest.raises(error):
        with atomic_write(target, "w") as f:
            f.write("half of the new")
            f.flush()
            raise error()
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_an_exception_before_the_first_write_leaves_no_file(tmp_path):
    target = tmp_path / "never.bin"
    with pytest.raises(Crash):
        with atomic_write(target) as f:
            raise Crash()
    assert os.listdir(tmp_path) == []


def test_a_failed_rename_removes_the_temporary_file(tmp_path):
    target = tmp_path / "a-folder"
    target.mkdir()
    (target / "inside").write_text("x")  # os.replace cannot put a file over a folder
    with pytest.raises(OSError):
        write_atomic(target, "content")
    assert _leftovers(tmp_path) == []


def test_replacing_gives_a_path_to_fill(tmp_path):
    target = tmp_path / "download"
    target.write_text("cached copy")
    with pytest.raises(Crash):
        with replacing(target) as tmp:
            with open(tmp, "w") as f:
                f.write("partial download")
            raise Crash()
    assert target.read_text() == "cached copy"
    assert _leftovers(tmp_path) == []
    with replacing(target) as tmp:
        with open(tmp, "w") as f:
            f.write("fresh")
    assert target.read_text() == "fresh" and _leftovers(tmp_path) == []


def test_only_write_modes():
    with pytest.raises(ValueError, match="'w' or 'wb'"):
        atomic_write("x", "a")
