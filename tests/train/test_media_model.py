"""The fusion network: image and audio columns beside the table, trained by the one loop."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from datawheel.data.media.decode import MediaError
from datawheel.errors import DataError, UsageError
from datawheel.evaluate.explain_media import heatmap_png
from datawheel.train import TrainedModel
from datawheel.train.checkpoint import load_checkpoint
from datawheel.train.media_net import FusionNet, mel_filterbank
from datawheel.train.trainer import TrainResult, train_classifier

from ._media import FEATURES, MODEL, TRAIN, frame, png, wav

TRAIN_ROWS, VAL_ROWS = frame(160, seed=1, missing=0.1), frame(64, seed=2)


def fit(train: pl.DataFrame = TRAIN_ROWS, val: pl.DataFrame = VAL_ROWS, **options) -> TrainResult:
    settings = {k: options.pop(k) for k in list(options) if k in type(TRAIN).model_fields}
    return train_classifier(
        train, val, features=FEATURES, target="label", model_config=MODEL,
        train_config=TRAIN.model_copy(update=settings), progress=False, **options,
    )  # fmt: skip


@pytest.fixture(scope="module")
def trained() -> TrainResult:
    return fit(epochs=20)


def test_mel_filterbank_when_built_then_triangles_rise_in_frequency() -> None:
    filters = mel_filterbank()  # [40, 201]
    assert filters.shape == (40, 201)
    assert torch.all(filters >= 0) and torch.all(filters.max(dim=1).values > 0.5)
    peaks = filters.argmax(dim=1)
    assert torch.all(peaks[1:] >= peaks[:-1]) and peaks[-1] > peaks[0] + 150


def test_fusion_when_row_alone_or_in_batch_then_same_output_and_missing_ignores_pixels() -> None:
    torch.manual_seed(0)
    net = FusionNet(2, [3], 2, n_images=1, n_audio=1, dim=4, hidden=[8]).eval()
    numeric, categorical = torch.randn(5, 2), torch.randint(0, 3, (5, 1))
    pixels, wave = torch.rand(5, 3, 12, 12), torch.randn(5, 4000) * 0.1
    present = torch.tensor([True, True, False, True, False])
    with torch.no_grad():
        batch = net(numeric, categorical, pixels, present, wave, present)
        alone = net(numeric[:1], categorical[:1], pixels[:1], present[:1], wave[:1], present[:1])
        other = net(numeric, categorical, torch.rand(5, 3, 12, 12), present, wave, present)
    assert torch.allclose(batch[:1], alone, atol=1e-6)
    absent = ~present
    assert torch.allclose(batch[absent], other[absent])  # a missing image's pixels never count
    assert not torch.allclose(batch[present], other[present])


def test_train_when_image_and_audio_decide_then_fusion_learns_them(trained: TrainResult) -> None:
    model = trained.model
    assert isinstance(model.network, FusionNet) and model.fused
    assert model.input_schema == {"x": "number", "photo": "image", "voice": "audio"}
    assert trained.history[-1]["val_accuracy"] >= 0.8
    # the image decides between these two rows: only the quadrant differs
    rows = [{"x": 0.0, "photo": png(q), "voice": wav(1)} for q in (0, 3)]
    assert model.predict(rows) == ["yes", "no"]


def test_predict_when_photo_missing_then_still_a_prediction(trained: TrainResult) -> None:
    model = trained.model
    rows = [{"x": 2.5, "photo": None, "voice": wav(0)}, {"x": 2.5, "voice": wav(0)}]
    proba = model.predict_proba(rows)
    assert np.allclose(proba[0], proba[1]) and model.predict(rows) == ["yes", "yes"]


def test_predict_when_dict_row_undecodable_then_media_error_names_the_field(
    trained: TrainResult,
) -> None:
    rows = [{"x": 0.0, "photo": png(0), "voice": wav(1)}, {"x": 0.0, "photo": b"GIF89a?"}]
    with pytest.raises(MediaError) as caught:
        trained.model.predict(rows)
    assert caught.value.where == "rows.1.photo" and caught.value.reason == "truncated"
    # a DataFrame is scored like training data: the bad value counts as missing
    lenient = pl.DataFrame(rows, schema={"x": pl.Float64, "photo": pl.Binary, "voice": pl.Binary})
    assert len(trained.model.predict(lenient)) == 2


def test_predict_when_paths_base64_or_bytes_then_same_probabilities(
    trained: TrainResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "p.png").write_bytes(png(1))
    (tmp_path / "v.wav").write_bytes(wav(1))
    monkeypatch.chdir(tmp_path)
    forms = [
        {"x": 0.3, "photo": png(1), "voice": wav(1)},
        {"x": 0.3, "photo": "p.png", "voice": Path("v.wav")},
        {"x": 0.3, "photo": base64.b64encode(png(1)).decode(),
         "voice": "data:audio/wav;base64," + base64.b64encode(wav(1)).decode()},
    ]  # fmt: skip
    proba = trained.model.predict_proba(forms)
    assert np.allclose(proba, proba[:1], atol=1e-6)


def test_bundle_when_saved_and_loaded_then_identical_predictions(trained: TrainResult) -> None:
    again = TrainedModel.from_bytes(trained.model.to_bytes())
    assert isinstance(again.network, FusionNet)
    assert np.array_equal(again.predict_proba(VAL_ROWS), trained.model.predict_proba(VAL_ROWS))
    assert again.preprocessor.media == trained.model.preprocessor.media


def test_train_when_media_value_corrupt_then_counted_and_trained_as_missing() -> None:
    bad = TRAIN_ROWS.with_columns(
        pl.when(pl.int_range(pl.len()) < 3).then(pl.lit(b"\x89PNG\r\n\x1a\nxx")).otherwise(
            pl.col("photo")).alias("photo")
    )  # fmt: skip
    result = fit(bad, epochs=1)
    assert result.media_rejected == {"photo:truncated": 3}


def test_explain_when_fused_then_modalities_sum_to_output_and_heatmap_finds_the_quadrant(
    trained: TrainResult,
) -> None:
    model = trained.model
    rows = [{"x": 0.0, "photo": png(0), "voice": wav(1)}, {"x": 0.0, "photo": None,
                                                        "voice": wav(1)}]  # fmt: skip
    proba = model.predict_proba(rows)
    explained = model.explain(rows, grid=2)
    for e, p in zip(explained, proba, strict=True):
        label = model.classes.index(e["label"])
        assert set(e["values"]) == {"tabular", "image", "audio"}
        assert e["base_value"] + sum(e["values"].values()) == pytest.approx(p[label], abs=1e-5)
    assert explained[1]["values"]["image"] == 0.0  # no photo: masking it changes nothing
    assert "heatmaps" not in explained[1]
    png_bytes = base64.b64decode(explained[0]["heatmaps"]["photo"])
    from PIL import Image

    assert Image.open(io.BytesIO(png_bytes)).format == "PNG"
    segments = explained[0]["segments"]["voice"]
    assert len(segments) == 10 and segments[-1]["end"] == pytest.approx(0.25)


def test_heatmap_when_one_cell_hot_then_red_there_and_untinted_elsewhere() -> None:
    pixels = np.full((8, 8, 3), 128, np.uint8)
    heat = np.array([[1.0, 0.0], [0.0, 0.0]])
    from PIL import Image

    image = np.asarray(Image.open(io.BytesIO(base64.b64decode(heatmap_png(pixels, heat)))))
    hot, cold = image[20, 20].astype(int), image[140, 140].astype(int)
    assert hot[0] > hot[2] + 50  # red over the supporting cell
    assert abs(cold[0] - cold[2]) < 5  # grey where occlusion did nothing


def test_output_arrays_when_fused_then_usage_error_points_to_rows(trained: TrainResult) -> None:
    with pytest.raises(UsageError, match="image or audio"):
        trained.model.output_arrays(np.zeros((1, 1), np.float32), np.zeros((1, 0), np.int64))


def test_train_when_finetune_with_media_then_usage_error() -> None:
    from datawheel.config import ModelConfig

    with pytest.raises(UsageError, match="finetune"):
        train_classifier(
            TRAIN_ROWS.with_columns(pl.lit("a b").alias("t")), VAL_ROWS.with_columns(
                pl.lit("a b").alias("t")),
            features=FEATURES.__class__(numeric=["x"], text=["t"], images=["photo"]),
            target="label", train_config=TRAIN,
            model_config=ModelConfig(text_encoder="minilm", finetune=True), progress=False,
        )  # fmt: skip


def test_resume_when_interrupted_then_identical_weights(tmp_path: Path) -> None:
    reference = fit(epochs=3)
    path = tmp_path / "last.pt"

    class Interrupted(Exception):
        pass

    def crash(row: dict[str, float]) -> None:
        if row["epoch"] == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        fit(epochs=3, checkpoint_path=path, on_epoch=crash)
    assert load_checkpoint(path)["epoch"] == 1
    resumed = fit(epochs=3, checkpoint_path=path, resume=True)
    assert resumed.resumed_from == 1
    for name, tensor in reference.model.network.state_dict().items():
        assert torch.equal(tensor, resumed.model.network.state_dict()[name]), name


def test_train_when_bf16_autocast_on_cpu_then_trains_and_serves_fp32() -> None:
    result = fit(epochs=1, precision="bf16")
    assert result.precision == "bf16"
    assert result.model.predict_proba(VAL_ROWS).dtype == np.float32


def test_augment_when_configured_then_training_batches_only_and_reproducible() -> None:
    from datawheel.config import AudioAugmentConfig, ImageAugmentConfig
    from datawheel.train.media_inputs import MediaAugmenter

    seen: list[tuple[int, int]] = []
    spec = fit(epochs=1).model.preprocessor.media
    augmenter = MediaAugmenter(spec, ImageAugmentConfig(enabled=True),
                               AudioAugmentConfig(enabled=True), seed=0)  # fmt: skip

    def augment(arrays, rows, epoch):  # type: ignore[no-untyped-def]
        seen.append((epoch, len(rows)))
        return augmenter(arrays, rows, epoch)

    first = fit(epochs=2, augment=augment)
    assert sum(n for _, n in seen) == 2 * TRAIN_ROWS.height  # every training row, no val row
    assert {e for e, _ in seen} == {1, 2}
    again = fit(epochs=2, augment=augmenter)
    plain = fit(epochs=2)
    state, same, other = (r.model.network.state_dict() for r in (first, again, plain))
    assert all(torch.equal(state[k], same[k]) for k in state)  # seeded per (epoch, row)
    assert not all(torch.equal(state[k], other[k]) for k in state)
    arrays = spec.arrays(TRAIN_ROWS.head(4))
    changed = augmenter(arrays, np.arange(4), 1)
    assert changed.images[0].shape == arrays.images[0].shape
    assert not np.array_equal(changed.audio[0], arrays.audio[0])


def test_fit_image_when_not_square_then_letterboxed_with_aspect_kept() -> None:
    from PIL import Image

    from datawheel.train.media_inputs import fit_image

    wide = Image.new("RGB", (40, 20), (255, 255, 255))
    out = fit_image(wide, 10)  # 10 × 5 of white, centred on black
    assert out.shape == (10, 10, 3)
    assert out[:2].max() == 0 and out[-2:].max() == 0 and out[4:6].min() == 255


def test_decode_when_strict_and_row_is_not_a_dict_then_data_error(trained: TrainResult) -> None:
    with pytest.raises(DataError):
        trained.model.preprocessor.media.arrays(["not a row"], strict=True)  # type: ignore[list-item]


@pytest.mark.e2e
def test_export_when_fused_then_onnx_matches_torch_and_predict_py_reads_file_paths(
    trained: TrainResult, tmp_path: Path
) -> None:
    import json
    import subprocess
    import sys

    from datawheel.train.export import export_bundle

    out = tmp_path / "bundle"
    report = export_bundle(trained.model, out, holdout=VAL_ROWS)
    # ONNX's STFT rounds differently from torch's; the rest of the graph is exact
    assert report.max_abs_diff is not None and report.max_abs_diff < 2e-3
    inputs = tmp_path / "inputs"
    (inputs / "media").mkdir(parents=True)
    rows = []
    for i, (q, p) in enumerate([(0, 1), (3, 0), (1, 1)]):
        (inputs / "media" / f"{i}.png").write_bytes(png(q))
        (inputs / "media" / f"{i}.wav").write_bytes(wav(p))
        rows.append({"x": 0.2 * i, "photo": f"media/{i}.png", "voice": f"media/{i}.wav"})
    rows.append({"x": 2.0, "photo": None, "voice": "media/0.wav"})  # a missing photo
    (inputs / "rows.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    done = subprocess.run(
        [sys.executable, str(out / "predict.py"), str(inputs / "rows.jsonl")],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )  # fmt: skip
    printed = [json.loads(line) for line in done.stdout.splitlines()]
    bundle = np.array([[p["probabilities"][c] for c in trained.model.classes] for p in printed])
    ours = trained.model.predict_proba(
        [{**r, "photo": r["photo"] and inputs / r["photo"], "voice": inputs / r["voice"]}
         for r in rows]
    )  # fmt: skip
    assert np.allclose(bundle, ours, atol=2e-3)


def test_card_when_fused_then_examples_show_heatmaps_and_clip_segments(
    trained: TrainResult,
) -> None:
    from datawheel.evaluate.card_media import media_examples_section

    section = media_examples_section(trained.model, VAL_ROWS, examples=2)
    assert section is not None and section.heading == "Examples"
    assert section.body_html.count('src="data:image/png;base64,') == 2
    assert section.body_html.count("<svg") == 2 and "true:" in section.body_html


@pytest.mark.slow
@pytest.mark.e2e
def test_torchrun_when_two_cpu_processes_then_fusion_weights_match_one_process(
    tmp_path: Path,
) -> None:
    import os
    import shutil
    import subprocess
    import sys

    runner = Path(sys.executable).parent / "torchrun"
    if shutil.which(str(runner)) is None:
        pytest.skip("torchrun missing")
    script = Path(__file__).with_name("_media_ddp.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, str(script), str(tmp_path / "one.pt")], check=True, env=env)
    subprocess.run(
        [str(runner), "--standalone", "--nproc-per-node", "2", str(script),
         str(tmp_path / "two.pt")], check=True, env=env, capture_output=True,
    )  # fmt: skip
    one, two = torch.load(tmp_path / "one.pt"), torch.load(tmp_path / "two.pt")
    assert two["world"] == 2
    for name, tensor in one["state"].items():  # averaged gradients: equal up to summation order
        assert torch.allclose(tensor, two["state"][name], atol=1e-4), name


def test_fusion_when_text_and_image_then_one_model_explains_four_ways_additively() -> None:
    from datawheel.train import FeatureColumns

    words = ["refund late", "great service", "broken screen", "thanks"]

    def with_text(rows: pl.DataFrame) -> pl.DataFrame:
        return rows.with_columns(pl.Series("note", [words[i % 4] for i in range(rows.height)]))

    features = FeatureColumns(numeric=["x"], text=["note"], images=["photo"], audio=["voice"])
    result = train_classifier(
        with_text(TRAIN_ROWS), with_text(VAL_ROWS), features=features, target="label",
        model_config=MODEL.model_copy(update={"text_buckets": 32}),
        train_config=TRAIN.model_copy(update={"epochs": 1}), progress=False,
    )  # fmt: skip
    rows = [{"x": 0.5, "note": "broken screen", "photo": png(1), "voice": wav(0)}]
    (explained,) = result.model.explain(rows, occlusion=False)
    assert list(explained["values"]) == ["tabular", "text", "image", "audio"]
    label = result.model.classes.index(explained["label"])
    total = explained["base_value"] + sum(explained["values"].values())
    assert total == pytest.approx(result.model.predict_proba(rows)[0, label], abs=1e-5)


def test_predict_when_no_value_of_a_column_decodes_then_error_not_silent_missing(
    trained: TrainResult,
) -> None:
    rows = pl.DataFrame({"x": [0.0, 1.0], "photo": ["nowhere/a.png", "nowhere/b.png"],
                         "voice": [None, None]}, schema_overrides={"voice": pl.Binary})  # fmt: skip
    with pytest.raises(MediaError, match="none of the 2 values of 'photo'") as caught:
        trained.model.predict(rows)
    assert caught.value.where == "rows.0.photo"
