"""The ``datawheel`` command: registers each subsystem's commands and maps errors to exit codes."""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import logging
import os
import sys
import threading
from typing import Any

import typer

from datawheel import __version__

PRIVATE_UMASK = 0o077

# One module per subsystem, each with ``register(app)``; listed here in help order.
SUBSYSTEMS = (
    "project",
    "data",
    "media",
    "privacy",
    "train",
    "evaluate",
    "models",
    "serve",
    "console",
    "loop",
    "share",
    "store",
)

app = typer.Typer(
    name="datawheel",
    help="A privacy-first data flywheel: clean → anonymize → train → evaluate → serve → "
    "feedback → retrain.\n\nExample: datawheel init myproject && cd myproject && datawheel run",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _in_language(command: Any) -> Any:
    """The click command tree with its help texts, and typer's panel titles, in the interface
    language (``i18n.catalog``); untouched in English."""
    from datawheel.i18n.catalog import _, language, translate

    if language() == "en":
        return command
    import typer.rich_utils as panels

    for name, text in (
        ("ARGUMENTS_PANEL_TITLE", _("Arguments")),
        ("OPTIONS_PANEL_TITLE", _("Options")),
        ("COMMANDS_PANEL_TITLE", _("Commands")),
        ("ERRORS_PANEL_TITLE", _("Error")),
        ("REQUIRED_LONG_STRING", _("[required]")),
        ("DEFAULT_STRING", _("[default: {}]")),
        ("ABORTED_TEXT", _("Aborted.")),
    ):
        setattr(panels, name, text)
    _localize_click_usage()
    show_help = _("Show this message and exit.")
    pending = [command]
    while pending:
        current = pending.pop()
        current.help = translate(current.help) if current.help else current.help
        current.short_help = translate(current.short_help) if current.short_help else None
        for param in current.params:
            if getattr(param, "help", None):
                param.help = translate(param.help)
        help_option = current.get_help_option(type(current).context_class(current))
        if help_option is not None:
            help_option.help = show_help
        pending.extend(getattr(current, "commands", {}).values())
    return command


def _localize_click_usage() -> None:
    """click's own "Usage: " prefix, which typer's panels print above every help page, in the
    language of the moment (so a later English command in the same process reads English)."""
    from typer._click import core, formatting

    from datawheel.i18n.catalog import _

    class _Formatter(formatting.HelpFormatter):
        def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
            super().write_usage(prog, args, _("Usage: ") if prefix is None else prefix)

    core.Context.formatter_class = _Formatter


def _version(value: bool) -> None:
    if value:
        typer.echo(f"datawheel {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """datawheel."""


for _name in SUBSYSTEMS:
    if importlib.util.find_spec(f"datawheel.cli.{_name}") is not None:
        importlib.import_module(f"datawheel.cli.{_name}").register(app)


class _Notices(logging.Handler):
    """The library's notices (``log.info``: the encoding a file was read in) and warnings as
    one line each on stderr — the stream of the moment, so captured output sees them."""

    def emit(self, record: logging.LogRecord) -> None:
        from datawheel.i18n.catalog import _, translate

        prefix = _("warning: ") if record.levelno >= logging.WARNING else ""
        typer.echo(prefix + translate(record.getMessage()), err=True)


def _show_notices() -> None:
    logger = logging.getLogger("datawheel")
    if not any(isinstance(h, _Notices) for h in logger.handlers):
        logger.addHandler(_Notices())
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)


def run() -> None:
    """The ``datawheel`` console script and ``python -m datawheel``: `main`, then a quick exit.

    Python's finalization frees every loaded module one object at a time: 0.4-0.7 s on every
    command once torch, polars and matplotlib are in memory, for a process that is about to end.
    This runs the exit handlers (logging, temporary files, Ray, worker pools), flushes the
    streams and leaves. Only when no other thread still runs: then Python's own exit waits for
    it as usual."""
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = _exit_status(exc.code)
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    if any(t.is_alive() and not t.daemon for t in others):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        if stream is None:  # started with the descriptor closed (`datawheel … >&-`)
            continue
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`datawheel … | head`)
            code = code or 1
    os._exit(code)


def _exit_status(code: object) -> int:
    """What Python's own exit makes of ``SystemExit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: library errors become one line on stderr and exit 2 (bad input) or 1."""
    # torch's default OpenMP threads stall in bursts on small VMs; one thread is steady.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _show_notices()
    from datawheel.errors import DatawheelError
    from datawheel.i18n.catalog import _, translate_error

    # Everything the CLI writes can hold raw or personal data (cleaned tables, scans, bundles,
    # reports, the workspace): readable by its owner only, folders 0700, files 0600.
    umask = os.umask(PRIVATE_UMASK)
    try:
        command = _in_language(typer.main.get_command(app))
        code = command(args=argv, standalone_mode=False)
        # outside standalone mode click returns a command's exit code instead of exiting
        if isinstance(code, int) and code != 0:
            sys.exit(code)
    except DatawheelError as exc:
        typer.echo(_("Error: ") + translate_error(exc), err=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo(_("Aborted."), err=True)
        sys.exit(1)
    except Exception as exc:  # usage errors: click's, or the copy of click newer typer ships
        import click

        if isinstance(exc, click.ClickException | typer.TyperException) and hasattr(exc, "show"):
            exc.show()
            sys.exit(getattr(exc, "exit_code", 2))
        if isinstance(exc, KeyboardInterrupt):
            sys.exit(130)
        if os.environ.get("DATAWHEEL_DEBUG"):
            raise
        typer.echo(
            _(
                f"Internal error: {type(exc).__name__}: {exc} "
                "(set DATAWHEEL_DEBUG=1 for the traceback)"
            ),
            err=True,
        )
        sys.exit(1)
    finally:
        os.umask(umask)  # main() may be called in-process (tests, embedding)
