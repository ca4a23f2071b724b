"""The command's start-up: `datawheel --help` and light commands import none of the heavy
libraries (torch, polars, FastAPI, scikit-learn, matplotlib); their time is measured in
benchmarks/bench_cli.py, not here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from datawheel.cli.common import DEFAULT_CONFIG
from datawheel.config import PROJECT_FILE

HEAVY = ["torch", "polars", "fastapi", "uvicorn", "sklearn", "matplotlib", "pandas", "pydantic"]

# Runs the CLI in-process, then prints which heavy modules got imported.
PROBE = """
import sys
from datawheel.cli.main import main
heavy = sys.argv[1].split(",")
sys.argv = ["datawheel", *sys.argv[2:]]
try:
    main()
except SystemExit:
    pass
print("IMPORTED=" + ",".join(m for m in heavy if m in sys.modules))
"""


def _imported(*args: str, cwd: Path) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(HEAVY), *args],
        capture_output=True, text=True, cwd=cwd, timeout=300,
        env={k: v for k, v in os.environ.items() if k != "DATAWHEEL_DB_URL"},
    )  # fmt: skip
    line = next(x for x in result.stdout.splitlines() if x.startswith("IMPORTED="))
    return [m for m in line.removeprefix("IMPORTED=").split(",") if m]


@pytest.mark.e2e
def test_help_when_run_then_no_heavy_library_is_imported(tmp_path: Path):
    assert _imported("--help", cwd=tmp_path) == []


@pytest.mark.e2e
def test_import_when_cli_module_loaded_then_no_heavy_library_is_imported(tmp_path: Path):
    code = f"import sys, datawheel.cli.main; print([m for m in {HEAVY!r} if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert result.stdout.strip() == "[]", result.stderr


@pytest.mark.e2e
def test_status_when_project_trained_then_neither_torch_nor_polars_is_imported(
    project_copy: Path,
):
    _imported("status", cwd=project_copy.parent)  # the first computes the drift reference
    imported = _imported("status", cwd=project_copy.parent)
    assert not {"torch", "polars", "fastapi", "sklearn", "matplotlib"} & set(imported), imported


@pytest.mark.e2e
def test_models_list_when_project_trained_then_torch_is_not_imported(project_copy: Path):
    assert "torch" not in _imported("models", "list", cwd=project_copy.parent)


def test_default_config_when_spelled_in_the_cli_then_equals_the_project_file_name():
    assert Path(PROJECT_FILE) == DEFAULT_CONFIG


# The console script's exit: handlers registered with atexit still run, output is flushed.
EXIT_PROBE = """
import atexit, sys
atexit.register(lambda: print("exit handler ran", file=sys.stderr))
sys.argv = ["datawheel", *sys.argv[1:]]
from datawheel.cli.main import run
run()
print("not reached: run() leaves the process")
"""


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("args", "code", "out"),
    [(["--version"], 0, "datawheel "), (["no-such-command"], 2, "")],
)
def test_run_when_command_ends_then_exit_code_output_and_exit_handlers_kept(
    tmp_path: Path, args: list[str], code: int, out: str
) -> None:
    done = subprocess.run([sys.executable, "-c", EXIT_PROBE, *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == code, done.stderr
    assert done.stdout.startswith(out) and "not reached" not in done.stdout
    assert "exit handler ran" in done.stderr


@pytest.mark.e2e
def test_run_when_started_with_stdout_closed_then_exits_cleanly(tmp_path: Path) -> None:
    """``datawheel --version >&-``: Python starts with no sys.stdout; nothing to flush, no crash."""
    probe = tmp_path / "probe.py"
    probe.write_text(EXIT_PROBE)
    done = subprocess.run(["bash", "-c", f'"{sys.executable}" "{probe}" --version >&-'],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert "Traceback" not in done.stderr and "AttributeError" not in done.stderr, done.stderr
    assert "exit handler ran" in done.stderr
