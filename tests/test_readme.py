"""The README is the user's manual: its tour runs as written, and it names every command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from datawheel.cli.main import app

README = Path(__file__).resolve().parents[1] / "README.md"


def _tour() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## A tour", 1)[1]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


def test_readme_when_opened_then_quickstart_comes_first():
    head = README.read_text(encoding="utf-8").splitlines()[:15]
    assert any("make demo" in line for line in head)
    assert any("make test" in line for line in head)


def test_readme_when_read_then_every_command_is_documented():
    text = README.read_text(encoding="utf-8")
    for name in typer.main.get_command(app).commands:
        assert f"datawheel {name}" in text, f"README never shows `datawheel {name}`"


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.timeout(900)  # the whole manual, `run` training three model families: minutes
def test_readme_tour_when_run_as_written_then_every_step_succeeds(tmp_path: Path):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("DATAWHEEL_KEY", None)
    env.pop("DATAWHEEL_DB_URL", None)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", _tour()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    project = tmp_path / "income"
    for produced in (
        "clean.parquet",
        "quality.html",
        "spans.jsonl",
        "k5.parquet",
        "card.html",
        "why.jsonl",
        "bundle/model.onnx",
    ):
        assert (project / produced).exists(), produced
    spans = (project / "spans.jsonl").read_text(encoding="utf-8")
    assert '"EMAIL"' in spans and '"CN_RESIDENT_ID"' in spans
    assert result.stdout.count('"probabilities"') == 5  # predict.py printed one line per row
