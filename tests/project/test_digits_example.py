"""The bundled ``digits`` example: shipped complete and small, and it runs end to end."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import polars as pl
import pytest

from datawheel.config import load_config
from datawheel.project.scaffold import EXAMPLES, example_dir, init_project


def test_digits_when_initialized_then_project_data_and_clips_under_5_mb(tmp_path: Path) -> None:
    assert "digits" in EXAMPLES
    project_file = init_project(tmp_path / "shop", example="digits")
    config = load_config(project_file)
    assert config.data.images == ["photo"] and config.data.audio == ["voice"]
    data = tmp_path / "shop" / "data"
    frame = pl.read_csv(data / "orders.csv")
    assert frame.height == 1797 and set(frame["target"].unique()) == {"high", "low"}
    clips = list((data / "voice").glob("*.flac"))
    assert len(clips) == 240
    size = sum(p.stat().st_size for p in example_dir("digits").rglob("*") if p.is_file())
    assert size <= 5 * 2**20
    pointed = {v for v in frame["voice"].drop_nulls().to_list() if (data / v).is_file()}
    assert len(pointed) > 200  # nearly every take is used; one path is wrong on purpose
    assert frame["photo"].null_count() > 0 and frame["voice"].null_count() > 0


def test_digits_when_decoded_then_images_are_8x8_and_clips_16_khz_speech() -> None:
    import soundfile
    from PIL import Image

    data = example_dir("digits") / "data"
    frame = pl.read_csv(data / "orders.csv").drop_nulls()
    image = Image.open(io.BytesIO(base64.b64decode(frame["photo"][0])))
    assert image.size == (8, 8)
    english = next((data / "voice").glob("7-en-*.flac"))
    chinese = next((data / "voice").glob("7-zh-*.flac"))
    for clip in (english, chinese):
        samples, rate = soundfile.read(clip)
        assert rate == 16_000 and 0.2 < len(samples) / rate < 1.5


@pytest.mark.slow
@pytest.mark.e2e
def test_digits_when_run_on_a_sample_then_fused_champion_predicts_and_explains(
    tmp_path: Path,
) -> None:
    from datawheel.project.pipeline import Project
    from datawheel.registry.versions import load_model

    project_file = init_project(tmp_path / "shop", example="digits")
    data = tmp_path / "shop" / "data" / "orders.csv"
    pl.read_csv(data).head(300).write_csv(data)
    text = project_file.read_text().replace("epochs: 40", "epochs: 2")
    project_file.write_text(text)
    report = Project.load(project_file).run()
    assert report.family == "mlp"
    model = load_model(report.model_version, workspace=tmp_path / "shop" / ".datawheel")
    assert model.fused and model.input_schema["photo"] == "image"
    row = pl.read_csv(data).drop_nulls().row(0, named=True)
    row["voice"] = str(data.parent / row["voice"])
    (explanation,) = model.explain([row])
    assert set(explanation["values"]) == {"tabular", "image", "audio"}
    assert "photo" in explanation["heatmaps"]
