"""Which engine runs a data command — ``local`` (this process) or ``ray`` (a Ray cluster) —
and what each accepts; light enough for the CLI to import on every path."""

from __future__ import annotations

from pathlib import Path

from datawheel.errors import UsageError

__all__ = ["ENGINES", "check_engine", "local_only", "local_path"]

ENGINES = ("local", "ray")


def check_engine(engine: str) -> str:
    """``local`` or ``ray``, else a usage error naming the choices."""
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}", where="--engine", hint="use local or ray")
    return engine


def local_only(engine: str, command: str) -> None:
    """For the work that runs on this machine only: ``--engine local`` is accepted,
    ``--engine ray`` refused saying so."""
    if check_engine(engine) == "ray":
        raise UsageError(
            f"datawheel {command} runs on the local engine only",
            where="--engine ray",
            hint="drop --engine ray",
        )


def local_path(location: str, *, what: str = "input") -> Path:
    """A path the local engine can use: one file on this machine (a folder of Parquet parts
    or an s3:// location is the Ray engine's)."""
    if "://" in location:
        raise UsageError(
            f"the local engine reads and writes files on this machine, not {location}",
            where=what,
            hint="add --engine ray (and --ray-address) for s3:// locations",
        )
    path = Path(location)
    if path.is_dir():
        raise UsageError(
            f"{location} is a folder; the local engine reads and writes one file",
            where=what,
            hint="add --engine ray to read or write a folder of Parquet parts",
        )
    return path
