"""Export a model as a portable bundle: ONNX (+ int8), the preprocessing spec, a numpy predictor."""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
from torch import nn

from datawheel.atomic import atomic_write, commit_rename
from datawheel.errors import MissingDependencyError, UsageError
from datawheel.train._license import APACHE_2_0
from datawheel.train.bundle import TrainedModel
from datawheel.train.design_model import DesignModel
from datawheel.train.media_net import LogMel
from datawheel.train.text import CHAR_NGRAMS

__all__ = [
    "BUNDLE_LICENSE_NOTE",
    "INT8_TOLERANCE",
    "ExportReport",
    "export_bundle",
    "onnx_predict_proba",
]

OPSET = 18
FP32_FILE, INT8_FILE = "model.onnx", "model.int8.onnx"
BUNDLE_LICENSE_NOTE = "The files of this bundle are licensed under Apache-2.0 (see LICENSE)."
#: The int8 bundle's stated tolerance: its probabilities stay within this (absolute) of the
#: fp32 model's; ``export_report.json`` records the largest difference seen on held-out rows.
INT8_TOLERANCE = 0.05


@dataclass
class ExportReport:
    """What ``export_bundle`` wrote and how the ONNX model compares with torch."""

    directory: str
    files: list[str] = field(default_factory=list)
    onnx_bytes: int = 0
    int8_bytes: int | None = None
    size_ratio: float | None = None  # int8 size / fp32 size
    max_abs_diff: float | None = None  # ONNX fp32 vs torch probabilities, on the held-out rows
    rows: int = 0  # held-out rows compared
    accuracy_torch: float | None = None
    accuracy_int8: float | None = None
    max_abs_diff_int8: float | None = None  # int8 vs torch probabilities (see INT8_TOLERANCE)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Probabilities(nn.Module):
    """The network plus softmax, taking only the inputs the model has (ONNX drops empty ones);
    for a regression (``scale`` = the target's mean and std) the value instead."""

    def __init__(
        self,
        network: nn.Module,
        *,
        numeric: bool,
        categorical: bool,
        scale: tuple[float, float] | None = None,
    ) -> None:
        super().__init__()
        self.network, self.numeric, self.categorical = network, numeric, categorical
        self.scale = scale

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        queue = list(inputs)
        x_num = queue.pop(0) if self.numeric else None
        x_cat = queue.pop(0) if self.categorical else None
        # a model without one kind of input never reads it: the other tensor stands in
        x_num = x_num if x_num is not None else x_cat
        x_cat = x_cat if x_cat is not None else x_num
        # a fusion network's media follow: pixels [B, 3, S, S] / waves [B, n], present [B]
        out = self.network(x_num, x_cat, *queue)  # [B, K] logits, or [B, 1] standardized value
        if self.scale is not None:
            return out * self.scale[1] + self.scale[0]
        return torch.softmax(out, dim=1)


def _input_names(model: TrainedModel) -> list[str]:
    """The ONNX inputs: ``numeric``, ``categorical`` (those the model has), then for a fusion
    model ``media_<j>`` and ``media_<j>_present`` per image column, then per audio column."""
    names = []
    if model.preprocessor.n_numeric_features:
        names.append("numeric")
    if model.preprocessor.columns.categorical:
        names.append("categorical")
    for j, _ in enumerate(model.preprocessor.media.columns if model.fused else []):
        names += [f"media_{j}", f"media_{j}_present"]
    return names


def _examples(model: TrainedModel) -> dict[str, torch.Tensor]:
    pre = model.preprocessor
    example = {
        "numeric": torch.zeros((2, pre.n_numeric_features)),
        "categorical": torch.zeros((2, len(pre.columns.categorical)), dtype=torch.long),
    }
    if model.fused:
        media = pre.media
        for j, column in enumerate(media.columns):
            side = media.image_size
            shape = (2, 3, side, side) if column in media.images else (2, media.audio_samples)
            example[f"media_{j}"] = torch.rand(shape)
            example[f"media_{j}_present"] = torch.tensor([True, False])
    return example


def _export_onnx(model: TrainedModel, path: Path) -> None:
    names = _input_names(model)
    assert isinstance(model.network, nn.Module)  # the MLP; other families export elsewhere
    wrapper = _Probabilities(
        model.network,
        numeric="numeric" in names,
        categorical="categorical" in names,
        scale=model.target_scale if model.is_regression else None,
    ).eval()
    example = _examples(model)
    axes = {name: {0: "batch"} for name in [*names, "probabilities"]}
    log_mels = [m for m in model.network.modules() if isinstance(m, LogMel)]
    try:
        for log_mel in log_mels:  # the exporter has no complex tensors: the real-pair STFT
            log_mel.real_pairs = True
        with warnings.catch_warnings():
            # the TorchScript exporter is deprecated but exact and 100x faster for a small MLP
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper,
                tuple(example[n] for n in names),
                str(path),
                input_names=names,
                output_names=["probabilities"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
    finally:
        for log_mel in log_mels:
            log_mel.real_pairs = False


def onnx_predict_proba(
    path: Path, numeric: np.ndarray, categorical: np.ndarray, media: Any = None
) -> np.ndarray:
    """Probabilities from an exported ONNX file for already-transformed arrays (and, for a
    fusion model, its decoded ``MediaArrays``)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {"numeric": numeric.astype(np.float32), "categorical": categorical.astype(np.int64)}
    if media is not None:
        for j, tensor in enumerate(media.tensors()):
            feeds[f"media_{j // 2}" + ("_present" if j % 2 else "")] = tensor.numpy()
    return session.run(None, {i.name: feeds[i.name] for i in session.get_inputs()})[0]


def export_bundle(
    model: TrainedModel,
    directory: str | Path,
    *,
    int8: bool = False,
    holdout: pl.DataFrame | None = None,
    card_html: str | None = None,
) -> ExportReport:
    """Write ``model.onnx``, ``preprocessing.json``, ``predict.py``, ``model.pt``,
    ``model_card.html`` and ``LICENSE`` to ``directory``; with ``int8`` also a dynamically
    quantized ``model.int8.onnx`` that ``predict.py`` then uses.

    ``holdout`` (raw rows with the target) measures ONNX against torch and int8's accuracy.
    A model with a fine-tuned MiniLM encoder cannot be exported (UsageError).
    """
    if model.finetuned:
        raise UsageError(
            "export is not available for a model with a fine-tuned MiniLM text encoder",
            hint="serve its model.pt with datawheel, or retrain with model.finetune: false",
        )
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        raise MissingDependencyError("onnxruntime", "export", purpose="datawheel export") from None
    pre = model.preprocessor
    if isinstance(model.network, DesignModel):
        return _export_design(model, Path(directory), int8=int8, holdout=holdout,
                              card_html=card_html)  # fmt: skip
    if pre.columns.text and pre.text_encoder != "hashed":
        raise UsageError(
            f"export supports hashed text features, this model uses {pre.text_encoder!r}",
            hint="train with model.text_encoder: hashed to export",
        )
    final = Path(directory)
    final.mkdir(parents=True, exist_ok=True)
    # Built in a fresh private folder, then renamed into place file by file: a name that
    # already exists in DIR is replaced, never written through (a symlink planted there is
    # replaced by the file; whatever it pointed to is left untouched).
    out = Path(tempfile.mkdtemp(prefix=".datawheel-export-", dir=final))
    try:
        report = _write_bundle(model, out, int8=int8, holdout=holdout, card_html=card_html)
        report.directory = str(final)
        atomic_write(out / "export_report.json", json.dumps(report.to_dict(), indent=1))
        _move_into(out, final)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return report


def _move_into(stage: Path, final: Path) -> None:
    for path in sorted(stage.iterdir()):
        try:
            commit_rename(path, final / path.name)
        except OSError as exc:
            raise UsageError(
                f"cannot write {path.name}: {exc.strerror}",
                where=str(final / path.name),
                hint="remove it or export to another folder",
            ) from None


def _write_bundle(
    model: TrainedModel,
    out: Path,
    *,
    int8: bool,
    holdout: pl.DataFrame | None,
    card_html: str | None,
) -> ExportReport:
    pre = model.preprocessor
    report = ExportReport(directory=str(out))
    _export_onnx(model, out / FP32_FILE)
    report.onnx_bytes = (out / FP32_FILE).stat().st_size
    onnx_file = FP32_FILE
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(out / FP32_FILE, out / INT8_FILE, weight_type=QuantType.QInt8)
        report.int8_bytes = (out / INT8_FILE).stat().st_size
        report.size_ratio = report.int8_bytes / report.onnx_bytes
        onnx_file = INT8_FILE

    spec = {
        **pre.to_dict(),
        "char_ngrams": list(CHAR_NGRAMS),
        "classes": list(model.classes),
        "target": model.target,
        "interval_halfwidth": (model.extras.get("interval") or {}).get("halfwidth"),
        "onnx_model": onnx_file,
        "inputs": _input_names(model),
    }
    atomic_write(out / "preprocessing.json", json.dumps(spec, indent=1, ensure_ascii=False))
    template = Path(__file__).with_name("_predict_template.py").read_text(encoding="utf-8")
    atomic_write(out / "predict.py", template)
    atomic_write(out / "model.pt", model.to_bytes())
    atomic_write(out / "LICENSE", APACHE_2_0)
    atomic_write(out / "model_card.html", card_html or _bare_card(model))

    if holdout is not None and holdout.height:
        _compare(model, out, holdout, report, int8=int8)
    report.files = sorted([*(p.name for p in out.iterdir() if p.is_file()), "export_report.json"])
    return report


def _export_design(
    model: TrainedModel,
    out: Path,
    *,
    int8: bool,
    holdout: pl.DataFrame | None,
    card_html: str | None,
) -> ExportReport:
    """The tree / linear bundle: ONNX over the design matrix, predict.py builds it."""
    from datawheel.train.export_design import design_spec, export_design_onnx, onnx_design_output

    network = model.network
    assert isinstance(network, DesignModel)
    if int8:
        raise UsageError(
            f"int8 quantization applies to the MLP's weights, not to a {model.family} model",
            hint="export without --int8",
        )
    out.mkdir(parents=True, exist_ok=True)
    report = ExportReport(directory=str(out))
    export_design_onnx(network, out / FP32_FILE)
    report.onnx_bytes = (out / FP32_FILE).stat().st_size
    interval = model.extras.get("interval") or {}
    spec = {
        **model.preprocessor.to_dict(),
        "text_width": model.preprocessor.text_width,
        "classes": list(model.classes),
        "target": model.target,
        "onnx_model": FP32_FILE,
        "inputs": ["design"],
        "interval_halfwidth": interval.get("halfwidth"),
        **design_spec(network),
    }
    _write_bundle_files(model, out, spec, card_html)
    if holdout is not None and holdout.height:
        texts = model.preprocessor.texts(holdout) if network.reads_text else None
        x = network.matrix(*model.transform(holdout), texts)
        ours = model.predict_output(holdout)
        theirs = onnx_design_output(out / FP32_FILE, x)
        report.rows = holdout.height
        report.max_abs_diff = float(np.abs(ours - theirs).max())
        if model.classes:
            truth = holdout.get_column(model.target).cast(pl.String).to_numpy()
            report.accuracy_torch = float(
                (np.asarray(model.classes)[ours.argmax(1)] == truth).mean()
            )
    report.files = sorted(p.name for p in out.iterdir() if p.is_file())
    atomic_write(out / "export_report.json", json.dumps(report.to_dict(), indent=1))
    report.files = sorted(p.name for p in out.iterdir() if p.is_file())
    return report


def _write_bundle_files(
    model: TrainedModel, out: Path, spec: dict[str, Any], card_html: str | None
) -> None:
    atomic_write(out / "preprocessing.json", json.dumps(spec, indent=1, ensure_ascii=False))
    template = Path(__file__).with_name("_predict_template.py").read_text(encoding="utf-8")
    atomic_write(out / "predict.py", template)
    atomic_write(out / "model.pt", model.to_bytes())
    atomic_write(out / "LICENSE", APACHE_2_0)
    atomic_write(out / "model_card.html", card_html or _bare_card(model))


def _compare(
    model: TrainedModel, out: Path, holdout: pl.DataFrame, report: ExportReport, *, int8: bool
) -> None:
    numeric, categorical = model.transform(holdout)
    media = model.media_arrays(holdout) if model.fused else None
    if media is not None:
        torch_proba = model.fused_output_arrays(numeric, categorical, media)
    else:
        torch_proba = model.output_arrays(numeric, categorical)
    onnx_proba = onnx_predict_proba(out / FP32_FILE, numeric, categorical, media)
    report.rows = holdout.height
    report.max_abs_diff = float(np.abs(torch_proba - onnx_proba).max())
    if model.is_regression:
        return
    truth = holdout.get_column(model.target).cast(pl.String).to_numpy()
    classes = np.asarray(model.classes)
    report.rows = holdout.height
    report.max_abs_diff = float(np.abs(torch_proba - onnx_proba).max())
    report.accuracy_torch = float((classes[torch_proba.argmax(1)] == truth).mean())
    if int8:
        int8_proba = onnx_predict_proba(out / INT8_FILE, numeric, categorical, media)
        report.accuracy_int8 = float((classes[int8_proba.argmax(1)] == truth).mean())
        report.max_abs_diff_int8 = float(np.abs(torch_proba - int8_proba).max())


def _bare_card(model: TrainedModel) -> str:
    """The card of a model exported with no evaluation at hand (the one card builder's)."""
    from datawheel.evaluate.card import model_card_html

    return model_card_html(
        model_id=model.version or "unregistered model",
        classes=model.classes,
        inputs=model.input_schema,
        license_note=BUNDLE_LICENSE_NOTE,
    )
