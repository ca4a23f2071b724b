"""The one atomic write: whole files or nothing, exact permissions, and no second copy of it."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from datawheel.atomic import AtomicFile, atomic_write, commit_rename

SRC = Path(__file__).resolve().parents[1] / "src" / "datawheel"
# modules that may write files their own way: the helper itself, and files copied into an export
# bundle that must run with the standard library alone (no datawheel to import there)
STANDALONE = {"atomic.py", "registry/license_check.py", "train/_predict_template.py"}


@pytest.fixture
def umask() -> Iterator[None]:
    """Tests that set the umask put the old one back."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_atomic_write_when_overwritten_then_new_content_and_no_temp_left(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "out.txt"  # missing folders are created
    atomic_write(target, b"one")
    assert atomic_write(target, "twó") == target
    assert target.read_text(encoding="utf-8") == "twó"
    assert _leftovers(target.parent) == []


@pytest.mark.parametrize(
    ("mask", "mode", "expected"),
    [
        (0o022, None, 0o644),  # no mode: what a plain open() gives under this umask
        (0o077, None, 0o600),  # … a stricter umask is respected
        (0o000, 0o600, 0o600),  # a key file stays 0600 even under an open umask
        (0o077, 0o644, 0o644),  # an explicit mode is set exactly
    ],
)
def test_atomic_write_when_mode_and_umask_then_permissions_as_expected(
    tmp_path: Path, umask: None, mask: int, mode: int | None, expected: int
) -> None:
    os.umask(mask)
    target = tmp_path / "f"
    atomic_write(target, b"x", mode=mode)
    assert _mode(target) == expected


def test_atomic_write_when_key_file_replaced_then_never_readable_by_others(
    tmp_path: Path, umask: None
) -> None:
    target = tmp_path / "datawheel.key"
    target.write_bytes(b"old")
    target.chmod(0o644)
    atomic_write(target, b"secret", mode=0o600)
    assert _mode(target) == 0o600  # the rename brings the new file's mode, not the old one's


def test_atomic_write_when_rename_fails_then_old_file_kept_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.bin"
    atomic_write(target, b"v1")

    def disk_full(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, b"v2-partial")
    assert target.read_bytes() == b"v1"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_atomic_file_when_block_raises_then_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "table.csv"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), AtomicFile(target) as out:
        out.file.write(b"half of a ")
        raise RuntimeError("the writer failed")
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_atomic_file_when_streamed_then_visible_only_after_commit(tmp_path: Path) -> None:
    target = tmp_path / "lines.jsonl"
    out = AtomicFile(target)
    out.file.write(b"1\n")
    out.file.write(b"2\n")
    assert not target.exists()  # a reader sees nothing until the commit
    assert out.commit() == target
    assert target.read_bytes() == b"1\n2\n"
    out.abort()  # after a commit: a no-op, the file stays
    assert target.exists()


def test_commit_rename_when_pending_file_then_moved_over_target(tmp_path: Path) -> None:
    pending, target = tmp_path / "k.new", tmp_path / "k"
    atomic_write(pending, b"new", mode=0o600)
    target.write_bytes(b"old")
    commit_rename(pending, target)
    assert target.read_bytes() == b"new" and not pending.exists()
    assert _mode(target) == 0o600


def test_source_when_searched_then_only_atomic_module_renames_or_makes_temp_files() -> None:
    """One way to write a file atomically: no other module calls os.replace or mkstemp."""
    pattern = re.compile(r"os\.replace\(|os\.rename\(|mkstemp\(|NamedTemporaryFile\(")
    offenders = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if str(path.relative_to(SRC)) not in STANDALONE
        and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], f"use datawheel.atomic in {offenders}"
