"""The loop commands as a user runs them: `loop --interval` stops on SIGTERM; feedback stats."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from datawheel.cli.main import app

from .helpers import add_tenant, income_rows, serve_and_label


@pytest.mark.e2e
def test_loop_interval_when_sigterm_then_exits_0_without_traceback(loop_env):
    # an hour between turns: only a SIGTERM that cuts the wait short ends it within the timeout
    proc = subprocess.Popen(
        [sys.executable, "-m", "datawheel", "loop", "--interval", "3600", "-c", str(loop_env.file)],
        cwd=loop_env.file.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()  # one turn done: the loop is (about to be) in its wait
        assert "labeled feedback" in first, first + proc.stderr.read()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "loop: stopped" in out


def test_feedback_commands_when_json_then_stats_and_accuracy(loop_env):
    ws, config = loop_env.ws, loop_env.project.config
    serve_and_label(ws, config, income_rows(2000, 2040), tenant_id=add_tenant(ws, "acme"))
    runner = CliRunner()
    args = ["-c", str(loop_env.file), "--json"]
    stats = runner.invoke(app, ["feedback", "stats", "--by", "tenant", "--window", "7d", *args])
    assert stats.exit_code == 0, stats.output
    (row,) = json.loads(stats.output)
    assert (row["group"], row["count"], row["last_7d"]) == ("acme", 40, 40)
    accuracy = runner.invoke(app, ["feedback", "accuracy", "--window", "7d", *args])
    assert accuracy.exit_code == 0, accuracy.output
    (v1,) = json.loads(accuracy.output)
    assert v1["labeled"] == 40 and v1["low"] <= v1["accuracy"] <= v1["high"]
    table = runner.invoke(app, ["feedback", "stats", "--by", "model", "-c", str(loop_env.file)])
    assert table.exit_code == 0 and "trend" in table.output
