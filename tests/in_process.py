"""Run the ``datawheel`` console script's ``main`` inside the test process, in a directory.

Far faster than a subprocess (no interpreter start, torch and polars already imported), so the
CLI tests that need many commands use it; the e2e tests still start real processes."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from pathlib import Path

from datawheel.cli.main import main


def run_main(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``main(args)`` as the console script calls it, in ``cwd``: its exit code and output."""
    old = Path.cwd()
    os.chdir(cwd)
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
                code = 0
            except SystemExit as exc:
                code = int(exc.code or 0)
    finally:
        os.chdir(old)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())
