"""Project commands: `datawheel demo` writes its report where the README says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
@pytest.mark.e2e
def test_demo_when_run_then_report_lands_in_the_current_folder(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "datawheel", "demo", "--workspace", str(tmp_path / "project"),
         "--traffic", "200", "--epochs", "2"],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    report = tmp_path / "demo-report.html"
    assert report.stat().st_size > 10_000 and "<svg" in report.read_text()
    assert f"Report: {report}" in result.stdout
    assert not (tmp_path / "project" / "demo-report.html").exists()
