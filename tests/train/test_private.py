"""DP-SGD: the epsilon spent stays within the target, is recorded on the version, and a
configuration that cannot be private is refused before training."""

from __future__ import annotations

from pathlib import Path

import pytest

from datawheel.io import read_table, write_table
from datawheel.project.pipeline import Project
from datawheel.project.scaffold import init_project
from datawheel.registry.versions import get_version

pytest.importorskip("opacus")


def _project(tmp_path: Path, train: str) -> Path:
    project_file = init_project(tmp_path / "p")
    data = tmp_path / "p" / "data" / "adult.csv.gz"
    write_table(read_table(data).head(1500), data)
    text = project_file.read_text()
    start, end = text.index("train:\n"), text.index("\ngates:")
    project_file.write_text(text[:start] + f"train: {train}\n" + text[end:])
    return project_file


@pytest.mark.slow  # trains the example model with DP-SGD
def test_run_when_train_privacy_then_epsilon_within_target_and_on_the_version(tmp_path):
    project_file = _project(
        tmp_path,
        "{epochs: 3, batch_size: 128, lr: 0.01, privacy: {epsilon: 2.0, delta: 1.0e-5}}",
    )
    project = Project.load(project_file)
    project.run()
    ws = project.open_workspace()
    try:
        version = get_version(ws, "champion")
    finally:
        ws.close()
    record = version.metrics["privacy"]
    assert 0 < record["epsilon"] <= 2.0 * 1.01  # Opacus calibrates the noise to the target
    assert record["delta"] == 1e-5 and record["noise_multiplier"] > 0
    assert version.metrics["accuracy"] > 0.5  # it still learned something


def test_config_when_privacy_with_finetune_then_refused_before_training(tmp_path):
    from datawheel.config import load_config
    from datawheel.errors import ConfigError

    project_file = _project(tmp_path, "{epochs: 1, privacy: {epsilon: 1.0}}")
    text = project_file.read_text().replace(
        "model: {", "model: {text_encoder: minilm, finetune: true, "
    )
    project_file.write_text(text)
    with pytest.raises(ConfigError, match=r"train\.privacy"):
        load_config(project_file)
