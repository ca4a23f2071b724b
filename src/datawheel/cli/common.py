"""What every command shares: the console, loading the project, and turning errors into exits."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from datawheel.i18n.catalog import translate


class _Console(Console):
    """rich's Console, printing in the interface language (``i18n.catalog``): text lines,
    status messages, and table titles and column headers (never the table's data).

    Its size follows ``COLUMNS`` / ``LINES`` (or the terminal) at each print, not as they were
    when this module was imported: ``main`` also runs in-process (tests, notebooks)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._width = kwargs.get("width")
        self._height = kwargs.get("height")

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*(_translated(o) for o in objects), **kwargs)

    def status(self, status: Any, *args: Any, **kwargs: Any) -> Any:
        return super().status(_translated(status), *args, **kwargs)


def _translated(thing: Any) -> Any:
    if isinstance(thing, str):
        return translate(thing)
    if isinstance(thing, Table):
        if isinstance(thing.title, str):
            thing.title = translate(thing.title)
        for column in thing.columns:
            if isinstance(column.header, str):
                column.header = translate(column.header)
    return thing


console = _Console()
err_console = _Console(stderr=True)

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="The project file.", show_default=True)
]
WorkspaceOption = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        help="Workspace folder (default: .datawheel beside the project file, or $DATAWHEEL_HOME).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
EncodingOption = Annotated[
    str | None,
    typer.Option(
        "--encoding",
        help="Text encoding of a CSV or JSON-lines input, e.g. gb18030, big5, utf-16; auto "
        "detects UTF-8, UTF-16, GB18030/GBK, Big5 and Windows-1252 (default: the project's "
        "data.encoding, else auto).",
    ),
]
# config.PROJECT_FILE, spelled out so that `datawheel --help` does not import pydantic (~0.1 s);
# tests/cli/test_main.py keeps the two equal.
DEFAULT_CONFIG = Path("datawheel.yaml")


def load_project(config: Path, workspace: Path | None, *, need_data: bool = True) -> Any:
    from datawheel.project.pipeline import Project

    return Project.load(config, workspace=workspace, need_data=need_data)


def open_workspace(config: Path, workspace: Path | None) -> Any:
    """The workspace of the project at ``config`` — or a bare one when there is no project file."""
    if config.is_file():
        return load_project(config, workspace).open_workspace()
    from datawheel.store.workspace import Workspace, resolve_workspace_dir

    root = resolve_workspace_dir(config.parent.resolve(), workspace)
    if not root.exists() and not os.environ.get("DATAWHEEL_DB_URL"):
        from datawheel.errors import ConfigError

        raise ConfigError(
            "project file not found",
            where=str(config),
            hint="run inside a project, or pass -c / --workspace",
        )
    return Workspace.open(root, key_dir=config.parent.resolve())


F = TypeVar("F", bound=Callable[..., Any])


def authorized(action: str, *, unless: tuple[str, str] | None = None) -> Callable[[F], F]:
    """Check the caller's role for ``action`` (store.roles) before the command does anything.

    The role is ``DATAWHEEL_ROLE``, else admin for the owner of the project's ``datawheel.key``
    (beside ``--config``), else none. The library checks again where it writes; this check
    also covers commands that work on files only, and refuses before any output exists.
    ``unless=(option, other)``: when the option is given, the command does ``other`` instead
    (``serve --bundle`` serves a licensed bundle, no workspace).
    """

    def wrap(command: F) -> F:
        @functools.wraps(command)
        def checked(*args: Any, **kwargs: Any) -> Any:
            from datawheel.errors import ConfigError, PermissionDenied
            from datawheel.store.roles import check, resolve_identity

            config = kwargs.get("config")
            key_dir = Path(config).resolve().parent if config is not None else Path.cwd()
            taken = unless[1] if unless and kwargs.get(unless[0]) is not None else action
            role = resolve_identity(key_dir).role
            try:
                check(role, taken)
            except PermissionDenied:
                if role is None and config is not None and not Path(config).is_file():
                    # no project here at all: say that, not that nobody owns its key
                    raise ConfigError(
                        "project file not found",
                        where=str(config),
                        hint="run `datawheel init DIR` or pass -c",
                    ) from None
                raise
            return command(*args, **kwargs)

        checked.action = action  # type: ignore[attr-defined]
        return checked  # type: ignore[return-value]

    return wrap


def print_json(value: Any) -> None:
    console.print_json(json.dumps(value, default=str))


EngineOption = Annotated[
    str, typer.Option(help="local (this process) or ray (a Ray cluster; extra 'ray').")
]
RayAddressOption = Annotated[
    str | None,
    typer.Option("--ray-address", help="The Ray cluster, HOST:PORT (default RAY_ADDRESS)."),
]


def print_primary(primary: dict[str, Any], warnings: list[str]) -> None:
    """The primary metric with its interval against the trivial baseline; loud when the model
    does not beat it."""
    if not primary:
        return
    value, low, high = primary.get("value"), primary.get("low"), primary.get("high")
    shown = "undefined" if value is None else f"{value:.4f}"
    if low is not None and high is not None:
        shown += f" [{low:.4f}, {high:.4f}]"
    else:
        shown += f" ({primary.get('interval')})"
    verdict = "beats it" if primary.get("beats_baseline") else "[bold red]does NOT beat it[/]"
    console.print(
        f"{primary['metric']} {shown} · trivial baseline {primary['baseline']:.4f} · {verdict}"
    )
    for line in warnings:
        console.print(f"[bold red]WARNING:[/] {line}")
