"""The one atomic file write: a temp file in the same folder, fsync, rename over the target.

A reader (a browser refreshing a report, a server loading a model, the next run reading a
checkpoint) sees the old file or the new one, never half of either. Standard library only, so
the lightest modules (the secret key, the project file) can use it without pulling in polars.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = ["AtomicFile", "atomic_write", "commit_rename"]

_DEFAULT_MODE = 0o666  # what a plain open() asks for; the umask then takes its bits away


class AtomicFile:
    """A temp file beside ``path`` that becomes ``path`` on ``commit()``, or vanishes on
    ``abort()``. As a context manager it commits when the block ends normally and aborts when
    it raises, leaving ``path`` as it was.

    ``mode`` (e.g. ``0o600`` for a key file) is set exactly, whatever the umask; without it the
    file gets the permissions a plain ``open()`` would give it. ``file`` is a binary handle.
    Writers that span several calls (streamed tables, side files) hold one and call
    ``commit``/``abort`` themselves.
    """

    def __init__(self, path: str | os.PathLike[str], *, mode: int | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(6)}.tmp")
        # O_EXCL: never write through a file (or link) someone else put at the temp name
        fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _DEFAULT_MODE)
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            self.file: IO[bytes] = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            self.tmp.unlink(missing_ok=True)
            raise
        self._done = False

    def commit(self) -> Path:
        """Flush, fsync and rename over ``path`` (then fsync the folder, so the rename lasts)."""
        if self._done:
            return self.path
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            commit_rename(self.tmp, self.path)
        except BaseException:
            self.abort()
            raise
        self._done = True
        return self.path

    def abort(self) -> None:
        """Drop the temp file; ``path`` is left untouched."""
        if self._done:
            return
        self._done = True
        try:
            self.file.close()
        finally:
            self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes | str,
    *,
    mode: int | None = None,
    encoding: str = "utf-8",
) -> Path:
    """Write ``data`` (bytes, or text in ``encoding``) to ``path`` atomically; returns the path.

    ``mode`` sets the permissions exactly (``0o600`` for secrets); by default they are what a
    plain ``open()`` would give. Missing parent folders are created.
    """
    payload = data.encode(encoding) if isinstance(data, str) else data
    with AtomicFile(path, mode=mode) as out:
        out.file.write(payload)
    return out.path


def commit_rename(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Rename a finished file over ``dst`` and fsync the folder: the second half of a two-step
    write whose first half (e.g. a pending key file) must survive until a database commit."""
    os.replace(src, dst)
    _fsync_dir(Path(dst).parent)


def _fsync_dir(folder: Path) -> None:
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(folder, flags)
    except OSError:  # a platform (Windows) that cannot open folders: the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on a folder; the data itself is synced
        pass
    finally:
        os.close(fd)
