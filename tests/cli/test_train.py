"""The training commands end to end: train, --resume after SIGKILL, torchrun DDP, export, tune."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from datawheel.cli.main import app
from datawheel.io import read_table, write_table
from datawheel.project.scaffold import init_project
from datawheel.store.runs import list_runs
from waiting import wait_until

BIN = Path(sys.executable).parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "DATAWHEEL_DEBUG": "1"}


def _project(directory: Path, *, rows: int, train: str) -> Path:
    """The income example on ``rows`` rows, with a ``train:`` block of small settings."""
    project_file = init_project(directory)
    data = directory / "data" / "adult.csv.gz"
    write_table(read_table(data).head(rows), data)
    text = project_file.read_text()
    start = text.index("train:\n")
    end = text.index("\ngates:")
    text = text[:start] + f"train: {train}\n" + text[end:]
    # these tests pin the MLP's training (checkpoints, resume, DDP, int8 export)
    project_file.write_text(text.replace("model: {kind: auto", "model: {kind: mlp"))
    return project_file


def _cli(args: list[str], cwd: Path, *, launcher: list[str] | None = None) -> dict:
    cmd = [*(launcher or [sys.executable, "-m"]), "datawheel", *args, "--json"]
    done = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout[done.stdout.index("{") :])


def _history(project_file: Path) -> list[tuple[float, float]]:
    from datawheel.project.pipeline import Project

    with Project.load(project_file).open_workspace() as ws:
        run = [r for r in list_runs(ws) if r.status == "finished"][-1]
    return [(h["val_loss"], h["val_accuracy"]) for h in run.history]


def test_commands_when_documented_then_help_ends_with_an_example() -> None:
    from datawheel.cli import train

    for command in (train.train, train.export, train.tune):
        assert command.__doc__.strip().splitlines()[-1].strip().startswith("Example: datawheel ")
        result = CliRunner().invoke(app, [command.__name__, "--help"])
        assert result.exit_code == 0, result.output


@pytest.mark.e2e
def test_train_when_bad_device_then_exit_2_with_reason(tmp_path: Path) -> None:
    project_file = _project(tmp_path / "p", rows=300, train="{epochs: 1}")
    done = subprocess.run(
        [sys.executable, "-m", "datawheel", "train", "--device", "tpu"],
        cwd=project_file.parent,
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "--device must be one of" in done.stderr


@pytest.mark.slow
@pytest.mark.e2e
def test_train_when_killed_and_resumed_then_same_metrics_as_uninterrupted(tmp_path: Path) -> None:
    settings = "{epochs: 12, batch_size: 16, lr: 0.003, early_stopping: 0, seed: 3}"
    killed = _project(tmp_path / "killed", rows=800, train=settings)
    clean = tmp_path / "clean"
    shutil.copytree(killed.parent, clean)  # same secret key: same pseudonyms, same fingerprints

    cmd = [sys.executable, "-m", "datawheel", "train", "--no-progress"]
    process = subprocess.Popen(cmd, cwd=killed.parent, env=ENV, stdout=subprocess.DEVNULL)
    killed_at: list[int] = []

    def epoch_done() -> int:
        from datawheel.train.checkpoint import load_checkpoint

        found = list((killed.parent / ".datawheel" / "checkpoints").glob("*/last.pt"))
        return load_checkpoint(found[0])["epoch"] if found else 0

    def kill_after_epoch_2() -> None:
        with contextlib.suppress(AssertionError):  # the assertion below says at which epoch
            wait_until(
                lambda: epoch_done() >= 2 or process.poll() is not None,
                what="epoch 2's checkpoint",
                timeout=180,
            )
        process.send_signal(signal.SIGKILL)
        killed_at.append(epoch_done())

    watcher = threading.Thread(target=kill_after_epoch_2)
    watcher.start()
    from datawheel.project.pipeline import Project

    reference = Project.load(clean / "datawheel.yaml").run()  # uninterrupted, meanwhile
    watcher.join()
    process.wait()
    assert 2 <= killed_at[0] < 12, f"killed at epoch {killed_at}: must be interrupted mid-way"

    resumed = _cli(["train", "--resume"], killed.parent)
    assert resumed["metrics"]["accuracy"] == reference.metrics["accuracy"]
    assert resumed["metrics"]["log_loss"] == reference.metrics["log_loss"]
    assert _history(killed) == _history(clean / "datawheel.yaml")


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("torchrun", path=str(BIN)) is None, reason="torchrun missing")
def test_torchrun_when_two_cpu_processes_then_one_version_close_to_single_process(
    tmp_path: Path,
) -> None:
    settings = "{epochs: 6, batch_size: 64, lr: 0.005, early_stopping: 0}"
    single = _project(tmp_path / "single", rows=1500, train=settings)
    # without dropout, DDP's averaged gradients equal one process's up to summation order
    text = single.read_text().replace("dropout: 0.1", "dropout: 0.0")
    single.write_text(text)
    ddp = tmp_path / "ddp"
    shutil.copytree(single.parent, ddp)

    launcher = [str(BIN / "torchrun"), "--standalone", "--nproc-per-node", "2", "-m"]
    report = _cli(["train", "--no-progress"], ddp, launcher=launcher)
    from datawheel.project.pipeline import Project

    baseline = Project.load(single).run()
    assert abs(report["metrics"]["accuracy"] - baseline.metrics["accuracy"]) < 0.02

    with Project.load(ddp / "datawheel.yaml").open_workspace() as ws:
        from datawheel.registry.versions import list_versions

        assert [v.id for v in list_versions(ws)] == ["v1"]
        runs = list_runs(ws)
        assert len(runs) == 1 and runs[0].environment["world_size"] == 2
    assert len(list((ddp / ".datawheel" / "checkpoints").glob("*/last.pt"))) == 1


@pytest.mark.e2e
def test_export_when_int8_then_bundle_matches_torch_and_predict_py_agrees(
    project_copy: Path, tmp_path: Path
) -> None:
    import datawheel as dw

    out = tmp_path / "bundle"
    report = _cli(["export", "champion", "-o", str(out), "--int8"], project_copy.parent)
    for name in ("model.onnx", "model.int8.onnx", "preprocessing.json", "predict.py",
                 "model.pt", "model_card.html", "LICENSE"):  # fmt: skip
        assert (out / name).is_file(), name
    assert report["max_abs_diff"] < 1e-5
    assert abs(report["accuracy_int8"] - report["accuracy_torch"]) < 0.03
    assert "Apache License" in (out / "LICENSE").read_text()

    model = dw.load_model(str(out))
    rows = read_table(project_copy.parent / "data" / "adult.csv.gz").head(25).to_dicts()
    (tmp_path / "rows.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    done = subprocess.run(
        [
            sys.executable,
            str(out / "predict.py"),
            str(tmp_path / "rows.jsonl"),
            "--model",
            "model.onnx",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    got = np.array([[line["probabilities"][c] for c in model.classes] for line in lines])
    assert np.abs(got - model.predict_proba(rows)).max() < 1e-5


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.skipif(importlib.util.find_spec("optuna") is None, reason="needs the `tune` extra")
def test_tune_when_trials_then_runs_recorded_and_overlay_used(tmp_path: Path) -> None:
    from datawheel.config import load_config

    project_file = _project(tmp_path / "p", rows=600, train="{epochs: 3, batch_size: 64}")
    report = _cli(["tune", "--trials", "3"], project_file.parent)
    assert len(report["trials"]) == 3
    tuned = project_file.with_name("datawheel.tuned.yaml")
    assert tuned.is_file()
    assert report["referenced"]  # the project file now names the tuned file: nothing hidden
    assert project_file.read_text().rstrip().endswith("tuned: datawheel.tuned.yaml")
    config = load_config(project_file)
    assert config.train.lr == report["best"]["train"]["lr"]
    assert config.model.hidden == report["best"]["model"]["hidden"]
    from datawheel.project.pipeline import Project

    with Project.load(project_file).open_workspace() as ws:
        assert sum(r.kind == "tune" for r in list_runs(ws)) == 3
