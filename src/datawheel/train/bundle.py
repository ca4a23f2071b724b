"""TrainedModel: the fitted preprocessing and the network, served exactly as evaluated."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl
import torch

from datawheel.errors import DataError, UsageError
from datawheel.train.design_model import DesignModel
from datawheel.train.features import Preprocessor
from datawheel.train.finetune import FINETUNE_KIND, FinetunedTextMLP
from datawheel.train.media_net import FUSION_KIND, FusionNet
from datawheel.train.model import SMALL_BATCH, FoldedMLP, TabularMLP

# Fold embeddings only while the folded tables (Σ cardinality × first-layer width, float32) stay
# this small: a 200k-category column would otherwise cost ~100 MB per served model.
FOLD_LIMIT_BYTES = 64 * 2**20

__all__ = ["TrainedModel"]

BUNDLE_FORMAT = "datawheel.trained_model"
BUNDLE_VERSION = 1

# A list of dicts, a polars DataFrame, or a pandas DataFrame (pandas is optional: never imported
# here; an object can only be a pandas DataFrame once the caller has imported pandas).
Rows = Sequence[Mapping[str, Any]] | pl.DataFrame | Any
Network = TabularMLP | FinetunedTextMLP | FusionNet | DesignModel
MEDIA_BATCH = 256  # rows per forward pass of a fusion model: bounds the decoded media's memory


def _as_rows(rows: Rows) -> Sequence[Mapping[str, Any]] | pl.DataFrame:
    """``rows`` as a list of dicts or a polars DataFrame: a pandas DataFrame is converted
    (column types kept, NaN as missing), anything else passes through unchanged."""
    pandas = sys.modules.get("pandas")
    if pandas is None or not isinstance(rows, pandas.DataFrame):
        return rows
    try:
        return pl.from_pandas(rows, nan_to_null=True)
    except Exception as exc:  # polars raises several types for columns it cannot map
        raise DataError(
            f"cannot read the pandas DataFrame: {exc}",
            hint="give every column one plain type (numbers or strings), or pass a list of dicts",
        ) from None


class TrainedModel:
    """Everything a prediction needs, with no reference to the training run.

    The network lives on the CPU in eval mode and runs in fp32, whatever device and precision
    trained it, so served probabilities are the ones the evaluation saw.

    A fine-tuned MiniLM model (``network`` a FinetunedTextMLP) carries its transformer weights
    and tokenizes the raw text at predict time; it has no array form of its text, so
    ``predict_proba_arrays``, ``explain`` and ONNX export raise a UsageError for it.

    A fusion model (``network`` a FusionNet: image / audio columns) decodes the media of the
    raw rows at predict time: rows given as dicts are decoded strictly (a value that does not
    decode is a MediaError naming ``rows.i.column``; a path is read relative to the current
    folder), a DataFrame leniently (such a value counts as missing, as in training). It is
    explained by modality (``evaluate.explain_media``), not per array position.

    ``family`` is ``mlp`` (the torch network), ``gbm`` (LightGBM) or ``linear`` (logistic or
    ridge regression): the last two are DesignModels, which read TF-IDF text from the raw rows.
    ``task`` is ``classification`` (``classes``, probabilities) or ``regression`` (no classes,
    one value per row; an MLP learns the standardized target, ``target_scale`` undoes it).
    """

    def __init__(
        self,
        preprocessor: Preprocessor,
        network: Network,
        classes: Sequence[str],
        *,
        target: str,
        task: str = "classification",
        target_scale: tuple[float, float] = (0.0, 1.0),
        model_config: Mapping[str, Any] | None = None,
        background: tuple[np.ndarray, np.ndarray] | None = None,
        extras: Mapping[str, Any] | None = None,
    ) -> None:
        if task not in ("classification", "regression"):
            raise UsageError(f"unknown task {task!r}", hint="classification or regression")
        outputs = 1 if task == "regression" else len(classes)
        if outputs != network.n_classes:
            raise UsageError(f"{outputs} outputs for a network of {network.n_classes} outputs")
        self.preprocessor = preprocessor
        self.network = network.to("cpu", torch.float32).eval()
        self.classes = [str(c) for c in classes] if task == "classification" else []
        self.task = task
        self.target_scale = (float(target_scale[0]), float(target_scale[1]))
        self.target = target
        self.model_config = dict(model_config or {})
        self.input_schema = preprocessor.input_schema()
        # transformed training rows (numeric [b, d], categorical [b, c]): the explainers' baseline
        self.background = background
        # JSON-serializable facts stored with the model (e.g. the drift reference)
        self.extras: dict[str, Any] = dict(extras or {})
        self.version: str | None = None  # set by the registry when loaded from a version

    # -- prediction ---------------------------------------------------------------------------

    def transform(self, rows: Rows) -> tuple[np.ndarray, np.ndarray]:
        """Raw rows (list of dicts, a polars or a pandas DataFrame) → the network's inputs."""
        rows = _as_rows(rows)
        if isinstance(rows, pl.DataFrame):
            return self.preprocessor.transform(rows)
        if isinstance(rows, Mapping) or not isinstance(rows, Sequence):
            raise UsageError(
                "rows must be a list of dicts or a polars or pandas DataFrame, "
                f"got {type(rows).__name__}",
                hint="wrap a single row in a list: [row]",
            )
        return self.preprocessor.transform_records(rows)

    @property
    def finetuned(self) -> bool:
        """True when the text encoder was fine-tuned with the network (no array-only path)."""
        return isinstance(self.network, FinetunedTextMLP)

    @property
    def fused(self) -> bool:
        """True for the fusion network (image or audio columns)."""
        return isinstance(self.network, FusionNet)

    @property
    def family(self) -> str:
        """``mlp``, ``gbm`` or ``linear``."""
        return self.network.kind if isinstance(self.network, DesignModel) else "mlp"

    @property
    def is_regression(self) -> bool:
        return self.task == "regression"

    @property
    def reads_text(self) -> bool:
        """True when predictions need the raw text (fine-tuned MiniLM, TF-IDF families)."""
        return self.finetuned or (isinstance(self.network, DesignModel) and self.network.reads_text)

    def _no_arrays(self, what: str) -> None:
        if self.fused:
            raise UsageError(
                f"{what} is not available for a model with image or audio columns",
                hint="pass raw rows: predict_proba(rows), explain(rows)",
            )
        if self.finetuned:
            raise UsageError(
                f"{what} is not available for a model with a fine-tuned MiniLM text encoder",
                hint="train with model.finetune: false (frozen MiniLM) or the hashed encoder",
            )

    def predict_proba_arrays(self, numeric: np.ndarray, categorical: np.ndarray) -> np.ndarray:
        """Already-transformed arrays → class probabilities float32 [n, n_classes]."""
        if self.is_regression:
            raise UsageError("a regression model has no class probabilities",
                             hint="use output_arrays or predict_values")  # fmt: skip
        return self.output_arrays(numeric, categorical)

    def output_arrays(self, numeric: np.ndarray, categorical: np.ndarray) -> np.ndarray:
        """Already-transformed arrays → probabilities [n, K], or values [n, 1] (regression).

        This is the function explanations attribute. A model that reads raw text has no
        array-only form (UsageError).
        """
        if isinstance(self.network, DesignModel):
            return self.network.output(numeric, categorical, None)
        self._no_arrays("prediction from transformed arrays (explanations, export)")
        numeric = np.ascontiguousarray(numeric, dtype=np.float32)  # [n, d]
        categorical = np.ascontiguousarray(categorical, dtype=np.int64)  # [n, c]
        assert isinstance(self.network, TabularMLP)
        self._check_indices(categorical)
        folded = self._inference_network()
        if self.is_regression:
            with torch.inference_mode():
                network = folded if folded is not None else self.network
                raw = network(torch.from_numpy(numeric), torch.from_numpy(categorical)).numpy()
            mean, std = self.target_scale
            return raw.astype(np.float64) * std + mean  # [n, 1]
        if folded is not None and len(numeric) <= SMALL_BATCH:  # numpy's fixed cost is lower
            return folded.predict_proba_numpy(numeric, categorical)  # [n, n_classes]
        with torch.inference_mode():
            network = folded if folded is not None else self.network
            logits = network(torch.from_numpy(numeric), torch.from_numpy(categorical))
            return torch.softmax(logits, dim=1).numpy()  # [n, n_classes]

    def additive_network(self) -> FoldedMLP | None:
        """The network as a first layer that sums over input positions and a head, for exact
        Shapley values (``evaluate.shapley``): None when it has no folded form."""
        return None if self.finetuned or self.fused else self._inference_network()

    def _check_indices(self, categorical: np.ndarray) -> None:
        """Category indices within each column's vocabulary (0 = unknown): the folded tables
        are stacked, so an index past its column's end would read the next column's table."""
        assert isinstance(self.network, TabularMLP)
        cardinalities = np.asarray(self.network.cardinalities, dtype=np.int64)  # [c]
        if categorical.shape[1:] != cardinalities.shape:
            raise DataError(
                f"expected {len(cardinalities)} categorical columns, got {categorical.shape[1:]}"
            )
        bad = (categorical < 0) | (categorical >= cardinalities)  # [n, c]
        if bad.any():
            row, column = map(int, np.argwhere(bad)[0])
            name = self.preprocessor.columns.categorical[column]
            raise DataError(
                f"row {row}: index {int(categorical[row, column])} is outside column {name!r}'s "
                f"vocabulary (0..{int(cardinalities[column]) - 1})",
                where=name,
                hint="pass arrays from model.transform(rows)",
            )

    def _inference_network(self) -> FoldedMLP | None:
        """The network with its embeddings folded into the first layer (``FoldedMLP``), built
        on first use and rebuilt if ``network`` is replaced; the weights are taken as frozen.
        None when the folded tables would exceed ``FOLD_LIMIT_BYTES`` (huge vocabularies)."""
        cached = self.__dict__.get("_folded")
        if cached is None or cached[0] is not self.network:
            assert isinstance(self.network, TabularMLP)
            small = self.network.folded_bytes() <= FOLD_LIMIT_BYTES
            cached = (self.network, self.network.folded().eval() if small else None)
            self.__dict__["_folded"] = cached
        return cached[1]

    def predict_output(self, rows: Rows) -> np.ndarray:
        """Probabilities [n, K] (classification) or values [n, 1] (regression) for raw rows."""
        rows = _as_rows(rows)
        numeric, categorical = self.transform(rows)
        if isinstance(self.network, DesignModel):
            texts = self.preprocessor.texts(rows) if self.network.reads_text else None
            return self.network.output(numeric, categorical, texts)
        if self.fused:
            return self._fused_output(rows, numeric, categorical)
        if not self.finetuned:
            return self.output_arrays(numeric, categorical)
        assert isinstance(self.network, FinetunedTextMLP)
        with torch.inference_mode():
            logits = self.network.predict_logits(
                torch.from_numpy(np.ascontiguousarray(numeric, dtype=np.float32)),  # [n, d]
                torch.from_numpy(np.ascontiguousarray(categorical, dtype=np.int64)),  # [n, c]
                self.preprocessor.texts(rows),
            )  # [n, n_classes]
            if self.is_regression:
                mean, std = self.target_scale
                return logits.numpy().astype(np.float64) * std + mean
            return torch.softmax(logits, dim=1).numpy()

    def media_arrays(self, rows: Sequence[Mapping[str, Any]] | pl.DataFrame) -> Any:
        """The decoded media of raw rows (``MediaArrays``): strict for dicts, lenient for a
        DataFrame (see the class docstring)."""
        from pathlib import Path

        strict = not isinstance(rows, pl.DataFrame)
        return self.preprocessor.media.arrays(rows, base_dir=Path.cwd(), strict=strict)

    def _fused_output(
        self, rows: Sequence[Mapping[str, Any]] | pl.DataFrame, numeric: np.ndarray,
        categorical: np.ndarray,
    ) -> np.ndarray:  # fmt: skip
        return self.fused_output_arrays(numeric, categorical, self.media_arrays(rows))

    def fused_output_arrays(
        self, numeric: np.ndarray, categorical: np.ndarray, media: Any
    ) -> np.ndarray:
        """Probabilities [n, K] or values [n, 1] of the fusion network for transformed tabular
        arrays and decoded media (``MediaArrays``), in batches of ``MEDIA_BATCH`` rows."""
        assert isinstance(self.network, FusionNet)
        x_num = torch.from_numpy(np.ascontiguousarray(numeric, dtype=np.float32))  # [n, d]
        x_cat = torch.from_numpy(np.ascontiguousarray(categorical, dtype=np.int64))  # [n, c]
        outs = []
        with torch.inference_mode():
            for start in range(0, len(x_num), MEDIA_BATCH):
                sl = slice(start, start + MEDIA_BATCH)
                outs.append(self.network(x_num[sl], x_cat[sl], *media.tensors(sl)))
        logits = torch.cat(outs) if outs else torch.zeros((0, self.network.n_classes))
        if self.is_regression:
            mean, std = self.target_scale
            return logits.numpy().astype(np.float64) * std + mean  # [n, 1]
        return torch.softmax(logits, dim=1).numpy()  # [n, n_classes]

    def predict_proba(self, rows: Rows) -> np.ndarray:
        """Class probabilities [n, n_classes], columns in the order of ``classes``."""
        if self.is_regression:
            raise UsageError("a regression model has no class probabilities",
                             hint="use predict or predict_values")  # fmt: skip
        return self.predict_output(rows)

    def predict_values(self, rows: Rows) -> np.ndarray:
        """Predicted values float64 [n] of a regression model."""
        if not self.is_regression:
            raise UsageError("predict_values is for regression models", hint="use predict_proba")
        return np.asarray(self.predict_output(rows), dtype=np.float64).reshape(-1)

    def predict(self, rows: Rows) -> list[Any]:
        """The most probable class per row, or the predicted value (regression)."""
        if self.is_regression:
            return [float(v) for v in self.predict_values(rows)]
        proba = self.predict_proba(rows)
        return [self.classes[i] for i in proba.argmax(axis=1)]

    def intervals(self, values: np.ndarray) -> np.ndarray | None:
        """Prediction intervals [n, 2] for regression values: value ± the conformal half-width
        measured on validation residuals (``extras["interval"]``); None without one."""
        spec = self.extras.get("interval")
        if not self.is_regression or not spec:
            return None
        half = float(spec["halfwidth"])
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        return np.stack([values - half, values + half], axis=1)

    def explain(self, rows: Rows, *, method: str = "shap", **options: Any) -> list[dict[str, Any]]:
        """Per-row attributions: ``{"label", "base_value", "values": {feature: v}}``, where
        base value + sum of values = the model's probability for that label."""
        from datawheel.evaluate.explain import explain_rows

        rows = _as_rows(rows)
        if isinstance(self.network, DesignModel):
            from datawheel.evaluate.explain_design import explain_design_rows

            return explain_design_rows(self, rows, **options)
        if self.fused:
            from datawheel.evaluate.explain_media import explain_media_rows

            return explain_media_rows(self, rows, **options)
        self._no_arrays("explain")
        return explain_rows(self, rows, method=method, **options)

    # -- serialization ------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """One self-describing dict of plain values and tensors, loadable with weights_only."""
        if isinstance(self.network, DesignModel):
            state: dict[str, Any] = {}
            family = self.network.payload()
        else:
            state = {k: v.detach().cpu() for k, v in self.network.state_dict().items()}
            family = {}
        payload = {
            "format": BUNDLE_FORMAT,
            "version": BUNDLE_VERSION,
            "state_dict": state,
            "family": family,
            "architecture": json.dumps(self.network.architecture()),
            "preprocessor": self.preprocessor.to_json(),
            "classes": list(self.classes),
            "task": self.task,
            "target_scale": list(self.target_scale),
            "target": self.target,
            "model_config": json.dumps(self.model_config),
            "extras": json.dumps(self.extras),
        }
        if self.background is not None:
            payload["background_numeric"] = torch.from_numpy(np.asarray(self.background[0]))
            payload["background_categorical"] = torch.from_numpy(np.asarray(self.background[1]))
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> TrainedModel:
        """Load ``to_bytes()`` output; only tensors and plain containers are unpickled."""
        try:
            payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for a corrupt or foreign file
            raise DataError(f"not a datawheel model file: {exc}") from None
        if not isinstance(payload, dict) or payload.get("format") != BUNDLE_FORMAT:
            raise DataError("not a datawheel model file: the format marker is missing")
        if payload.get("version") != BUNDLE_VERSION:
            raise DataError(
                f"model file version {payload.get('version')!r} is not supported",
                hint=f"this datawheel reads version {BUNDLE_VERSION}; retrain or upgrade",
            )
        architecture = json.loads(payload["architecture"])
        network: Network
        kind = architecture.get("kind")
        if kind in ("gbm", "linear"):
            from datawheel.train.gbm import GBMModel
            from datawheel.train.linear import LinearModel

            family = GBMModel if kind == "gbm" else LinearModel
            network = family.from_payload(architecture, payload["family"])
        else:
            if kind == FINETUNE_KIND:  # the pretrained shape, then our weights
                network = FinetunedTextMLP.from_architecture(architecture)
            elif kind == FUSION_KIND:
                network = FusionNet.from_architecture(architecture)
            else:
                network = TabularMLP.from_architecture(architecture)
            network.load_state_dict(payload["state_dict"])
        background = None
        if "background_numeric" in payload:
            background = (
                payload["background_numeric"].numpy(),
                payload["background_categorical"].numpy(),
            )
        return cls(
            Preprocessor.from_json(payload["preprocessor"]),
            network,
            payload["classes"],
            target=payload["target"],
            task=payload.get("task", "classification"),
            target_scale=tuple(payload.get("target_scale", (0.0, 1.0))),
            model_config=json.loads(payload["model_config"]),
            background=background,
            extras=json.loads(payload.get("extras", "{}")),
        )

    def __repr__(self) -> str:
        what = "regression" if self.is_regression else f"classes={self.classes}"
        return (
            f"TrainedModel({self.family}, target={self.target!r}, {what}, "
            f"inputs={list(self.input_schema)})"
        )
