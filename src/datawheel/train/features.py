"""The fitted preprocessing of features: standardized numerics, category indices, text bags."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl

from datawheel.config import CleanConfig, MissingConfig, ModelConfig, OutliersConfig
from datawheel.data.clean import Outliers
from datawheel.errors import DataError, NotFittedError, UsageError
from datawheel.train.media_inputs import MediaSpec
from datawheel.train.media_net import AUDIO_RATE
from datawheel.train.text import TEXT_ENCODERS, encode_texts, text_width

__all__ = ["MEDIA_KINDS", "FeatureColumns", "InputKind", "Preprocessor"]

InputKind = Literal["number", "string", "image", "audio"]
MEDIA_KINDS = ("image", "audio")  # input kinds whose values are files (base64 in JSON)

SPEC_FORMAT = "datawheel.preprocessor"
SPEC_VERSION = 1


@dataclass
class FeatureColumns:
    """Which input columns are numeric, categorical, free text, images or audio clips (the
    order is kept). Media columns are read by the fusion network (``train.media_net``)."""

    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    audio: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        names = [*self.numeric, *self.categorical, *self.text, *self.images, *self.audio]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise UsageError(
                f"feature columns listed twice: {', '.join(duplicates)}",
                hint="give each column one role: numeric, categorical, text, image or audio",
            )

    @property
    def all(self) -> list[str]:
        """Every feature column: numeric first, then categorical, text, images, audio."""
        return [*self.numeric, *self.categorical, *self.text, *self.images, *self.audio]

    @property
    def media(self) -> list[str]:
        """The image and audio columns."""
        return [*self.images, *self.audio]


def _as_category(value: Any) -> str | None:
    """The string a raw value stands for, matching polars' cast to String; None = missing."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


def _number_forms(vocabulary: Sequence[str]) -> dict[str | None, int]:
    """Other spellings of the categories that are whole numbers: ``"3"`` learned from an
    integer column is also ``"3.0"`` (a float column, a CSV reader's guess), and the other way
    round — so a category sent or read as a number finds its index either way."""
    forms: dict[str | None, int] = {}
    for i, value in enumerate(vocabulary):
        try:
            number = float(value)
        except ValueError:
            continue
        if math.isfinite(number) and number.is_integer() and abs(number) < 2**53:
            for form in (str(int(number)), f"{int(number)}.0"):
                forms.setdefault(form, i + 1)
    return forms


def _floats_from_values(values: list[Any], column: str) -> np.ndarray:
    """Python values → float64 with NaN for missing; a non-numeric string is a DataError."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        pass  # slow path: blanks, or a bad value to name
    out = np.empty(len(values), dtype=np.float64)
    for i, value in enumerate(values):
        if value is None or (isinstance(value, str) and not value.strip()):
            out[i] = np.nan
            continue
        try:
            out[i] = float(value)
        except (TypeError, ValueError):
            raise DataError(
                f"column {column!r} is numeric but holds {value!r}",
                where=column,
                hint="send a number, or null when it is missing",
            ) from None
    return out


def _floats_from_series(series: pl.Series, column: str) -> np.ndarray:
    """A polars column → float64 with NaN for missing; a non-numeric string is a DataError."""
    if series.dtype in (pl.String, pl.Categorical) or isinstance(series.dtype, pl.Enum):
        text = series.cast(pl.String).str.strip_chars()
        text = pl.select(pl.when(text == "").then(None).otherwise(text)).to_series()
        numbers = text.cast(pl.Float64, strict=False)
        bad = numbers.is_null() & text.is_not_null()
        if bad.any():
            example = text.filter(bad)[0]
            raise DataError(
                f"column {column!r} is numeric but holds {example!r} ({int(bad.sum())} rows)",
                where=column,
                hint="fix the values, or declare the column categorical",
            )
        series = numbers
    elif not (series.dtype.is_numeric() or series.dtype in (pl.Boolean, pl.Null)):
        raise DataError(
            f"column {column!r} is numeric but has type {series.dtype}",
            where=column,
            hint="cast it to a number, or declare the column categorical",
        )
    return series.cast(pl.Float64).to_numpy().astype(np.float64, copy=False)


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _bounds(values: Sequence[float | None] | None, n: int, default: float) -> np.ndarray:
    if values is None:
        return np.full(n, default)
    return np.asarray([default if v is None else float(v) for v in values], dtype=np.float64)


class Preprocessor:
    """Turns raw feature columns into the two arrays the network reads — the one transform
    that training, evaluation, serving, the shadow and the exported bundle all apply.

    Everything it knows is learned by ``fit`` on the training split alone: outlier fences,
    fill values, means and stds, vocabularies. Raw values come in, so requests need no
    cleaning of their own, and a request is transformed exactly as a training row was.

    Numerics, in order: a missing value (null, NaN, ±inf, blank) is noted; values beyond the
    outlier fences are clipped to them (``outliers``: IQR or z-score fences from the training
    values; a column whose fences would flatten it is left alone, see ``outlier_skipped_``);
    missing values take the fill value (``missing.numeric``: median, mean, most frequent or a
    constant, from the training values; without ``missing`` the mean); then the column is
    standardized with the training mean and std of its clipped values (std 0 → 1). A 0/1
    missing indicator is appended only for numeric columns that had missing values in
    training: a column never missing in training carries no learnable signal in its indicator.
    With ``outliers.action: flag`` values are not clipped; a 0/1 "beyond the fences" column is
    appended instead. (``action: drop`` clips here; the pipeline drops training rows beyond
    the fences, which only the training split may lose.)

    Categoricals are cast to str; a missing one takes ``missing.categorical``'s fill (the
    training mode, or a constant) when set; index 0 means unknown or missing, known categories
    get 1..n in sorted order. Categories seen fewer than ``min_frequency`` times in training
    fold into 0.

    Text columns become fixed-width float blocks appended to the numeric array: a hashed
    character/word n-gram bag (``text_encoder="hashed"``, ``text_buckets`` wide, any language)
    or frozen MiniLM sentence vectors (``"minilm"``, 384 wide, the optional ``text`` extra).
    A missing text is the empty string. With ``text_finetune`` (MiniLM fine-tuned with the
    network) text columns add no block: the network reads the raw strings (``texts``).

    Output: ``numeric`` float32 ``[n, len(numeric) + len(missing_indicator_) +
    len(outlier_flag_) + text widths]`` and ``categorical`` int64 ``[n, len(categorical)]``.
    """

    def __init__(
        self,
        columns: FeatureColumns,
        *,
        min_frequency: int = 1,
        text_encoder: str = "hashed",
        text_buckets: int = 1024,
        text_finetune: bool = False,
        missing: MissingConfig | None = None,
        outliers: OutliersConfig | None = None,
        image_size: int = 32,
        audio_samples: int = 32_000,
    ) -> None:
        if min_frequency < 1:
            raise UsageError(f"min_frequency must be >= 1, got {min_frequency}")
        if text_encoder not in TEXT_ENCODERS:
            raise UsageError(
                f"unknown text encoder {text_encoder!r}", hint=f"use one of {TEXT_ENCODERS}"
            )
        if text_buckets < 1:
            raise UsageError(f"text_buckets must be >= 1, got {text_buckets}")
        if text_finetune and text_encoder != "minilm":
            raise UsageError(
                "fine-tuning needs the MiniLM text encoder", hint="set model.text_encoder: minilm"
            )
        self.columns = columns
        self.min_frequency = min_frequency
        self.text_encoder = text_encoder
        self.text_buckets = text_buckets
        self.text_finetune = text_finetune
        self.missing = missing
        self.outliers = outliers
        # images and clips: decoded and fitted to one shape, read by the fusion network
        self.media = MediaSpec(
            tuple(columns.images), tuple(columns.audio), image_size, audio_samples
        )

    @classmethod
    def from_config(
        cls, columns: FeatureColumns, clean: CleanConfig, model: ModelConfig
    ) -> Preprocessor:
        """The project's preprocessing: ``clean.missing`` and ``clean.outliers`` for the
        numerics and categoricals, ``model`` for the text encoder. Every model kind should
        build its inputs with this, so its serving path applies the same transform."""
        return cls(
            columns,
            text_encoder=model.text_encoder,
            text_buckets=model.text_buckets,
            text_finetune=model.finetune,
            missing=clean.missing,
            outliers=clean.outliers,
            image_size=model.image_size,
            audio_samples=round(model.audio_seconds * AUDIO_RATE),
        )

    # -- fitting ------------------------------------------------------------------------------

    def fit(self, frame: pl.DataFrame) -> Preprocessor:
        """Learn fences, fill values, means, stds, indicators and vocabularies from ``frame``
        (the training split: nothing else may shape the transform)."""
        self._check_columns(frame.columns)
        lower, upper, fills, means, stds, indicators = [], [], [], [], [], []
        flags: dict[str, tuple[float, float]] = {}
        skipped: dict[str, str] = {}
        for name in self.columns.numeric:
            values = _floats_from_series(frame.get_column(name), name)
            finite = values[np.isfinite(values)]
            low, high, why = self._fences(finite)
            if why:
                skipped[name] = why
            flag = self.outliers is not None and self.outliers.action == "flag" and not why
            if flag:
                flags[name] = (low, high)
                low, high = -math.inf, math.inf  # flagged, not clipped
            clipped = np.clip(finite, low, high)
            lower.append(low)
            upper.append(high)
            fills.append(self._numeric_fill(clipped, name))
            mean = float(clipped.mean()) if clipped.size else 0.0
            std = float(clipped.std()) if clipped.size else 0.0
            means.append(mean)
            stds.append(std if std > 0.0 else 1.0)
            if finite.size < values.size:
                indicators.append(name)
        vocab: dict[str, list[str]] = {}
        categorical_fill: dict[str, str] = {}
        for name in self.columns.categorical:
            counts = frame.get_column(name).cast(pl.String).drop_nulls().value_counts()
            kept = counts.filter(pl.col("count") >= self.min_frequency).get_column(name)
            vocab[name] = sorted(kept.to_list())
            fill = self._categorical_fill(counts, name)
            if fill is not None:
                categorical_fill[name] = fill
        self.lower_ = np.asarray(lower, dtype=np.float64)
        self.upper_ = np.asarray(upper, dtype=np.float64)
        self.fill_ = np.asarray(fills, dtype=np.float64)
        self.mean_ = np.asarray(means, dtype=np.float64)
        self.std_ = np.asarray(stds, dtype=np.float64)
        self.missing_indicator_ = indicators
        self.outlier_flag_ = list(flags)
        self.flag_bounds_ = flags
        self.outlier_skipped_ = skipped
        self.categorical_fill_ = categorical_fill
        self.vocabulary_ = vocab
        self.__dict__.pop("_index_cache", None)  # lookups of a previous fit are stale
        return self

    def _fences(self, finite: np.ndarray) -> tuple[float, float, str]:
        """(low, high, "") of the outlier fences, or (-inf, inf, why the column is left alone)."""
        if self.outliers is None or self.outliers.method == "none":
            return -math.inf, math.inf, ""
        bounds = Outliers(self.outliers).column_bounds(pl.Series(finite, dtype=pl.Float64))
        if isinstance(bounds, str):
            return -math.inf, math.inf, bounds
        return float(bounds[0]), float(bounds[1]), ""

    def _numeric_fill(self, clipped: np.ndarray, name: str) -> float:
        """The value a missing number takes: ``missing.numeric`` over the training values.

        ``none`` (no imputation asked) falls back to the mean, the neutral 0 after
        standardizing; ``drop`` and ``ffill`` act on the training file, so a request still
        missing the value gets the median.
        """
        strategy = self.missing.numeric if self.missing is not None else "mean"
        if strategy == "constant":
            assert self.missing is not None
            try:
                return float(self.missing.fill_value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise DataError(
                    f"cannot fill numeric column {name!r} with {self.missing.fill_value!r}",
                    where="clean.missing.fill_value",
                    hint="use a number for the constant fill of numeric columns",
                ) from None
        if clipped.size == 0:
            return 0.0
        if strategy in ("mean", "none"):
            return float(clipped.mean())
        if strategy == "most_frequent":
            values, counts = np.unique(clipped, return_counts=True)
            return float(values[np.argmax(counts)])  # ties: the smallest value
        return float(np.median(clipped))  # median, and the fallback of drop / ffill

    def _categorical_fill(self, counts: pl.DataFrame, name: str) -> str | None:
        """The category a missing value takes (``missing.categorical``), or None: index 0."""
        strategy = self.missing.categorical if self.missing is not None else "none"
        if strategy == "constant":
            assert self.missing is not None
            return None if self.missing.fill_value is None else str(self.missing.fill_value)
        if strategy == "most_frequent" and counts.height:
            return str(counts.sort(["count", name], descending=[True, False])[name][0])
        return None

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "vocabulary_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                "the Preprocessor is not fitted", hint="call fit(train_frame) before transform"
            )

    def _check_columns(self, present: Sequence[str]) -> None:
        missing = [name for name in self.columns.all if name not in set(present)]
        if missing:
            raise DataError(
                f"missing column(s): {', '.join(missing)}",
                where=missing[0],
                hint=f"expected columns: {', '.join(self.columns.all)}",
            )

    # -- shapes -------------------------------------------------------------------------------

    @property
    def n_numeric_features(self) -> int:
        """Width of the numeric array: standardized columns, missing indicators, text blocks."""
        self._check_fitted()
        return self._n_tabular + len(self.columns.text) * self.text_width

    @property
    def _n_tabular(self) -> int:
        return len(self.columns.numeric) + len(self.missing_indicator_) + len(self.outlier_flag_)

    @property
    def text_width(self) -> int:
        """Width of one text column's block in the numeric array (0 when fine-tuned)."""
        return 0 if self.text_finetune else text_width(self.text_encoder, self.text_buckets)

    @property
    def cardinalities(self) -> list[int]:
        """Embedding table sizes per categorical column, index 0 (unknown) included."""
        self._check_fitted()
        return [len(self.vocabulary_[name]) + 1 for name in self.columns.categorical]

    def input_schema(self) -> dict[str, InputKind]:
        """The raw fields a prediction request carries, with their kind: ``number`` and
        ``string`` are JSON types; ``image`` and ``audio`` are base64 strings (or uploads)."""
        schema: dict[str, InputKind] = dict.fromkeys(self.columns.numeric, "number")
        schema.update(dict.fromkeys(self.columns.categorical, "string"))
        schema.update(dict.fromkeys(self.columns.text, "string"))
        schema.update(dict.fromkeys(self.columns.images, "image"))
        schema.update(dict.fromkeys(self.columns.audio, "audio"))
        return schema

    # -- transforming -------------------------------------------------------------------------

    def transform(self, frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """A polars frame → (numeric float32 [n, d], categorical int64 [n, c])."""
        self._check_fitted()
        self._check_columns(frame.columns)
        raw = [_floats_from_series(frame.get_column(n), n) for n in self.columns.numeric]
        codes = [
            self._categories(frame.get_column(name))
            .replace_strict(self._index(name), default=0, return_dtype=pl.Int64)
            .to_numpy()
            for name in self.columns.categorical
        ]
        texts = [frame.get_column(n).cast(pl.String).to_list() for n in self.columns.text]
        return self._assemble(raw, codes, frame.height, texts)

    def _categories(self, series: pl.Series) -> pl.Series:
        """A categorical column as text, a missing value replaced by its fill (if any)."""
        text = series.cast(pl.String)
        fill = self.categorical_fill_.get(series.name)
        return text if fill is None else text.fill_null(fill)

    def transform_records(self, rows: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """Dict rows → the same arrays as ``transform``, without building a DataFrame.

        This is the serving path: for a handful of rows, polars' setup costs more than the
        model. Extra keys are ignored; a missing key is a DataError naming the field.
        """
        self._check_fitted()
        raw = [_floats_from_values(self._field(rows, n), n) for n in self.columns.numeric]
        codes = []
        for name in self.columns.categorical:
            index = self._index(name)
            values = self._field(rows, name)
            fill = index.get(self.categorical_fill_.get(name), 0)  # a missing category
            codes.append(
                np.fromiter(
                    (fill if (c := _as_category(v)) is None else index.get(c, 0) for v in values),
                    np.int64,
                )
            )
        texts = [self._field(rows, n) for n in self.columns.text]
        return self._assemble(raw, codes, len(rows), texts)

    def texts(self, rows: Sequence[Mapping[str, Any]] | pl.DataFrame) -> list[list[str]]:
        """The raw text columns per row, ``[n][len(text)]``, a missing text as ``""``."""
        if isinstance(rows, pl.DataFrame):
            self._check_columns(rows.columns)
            columns = [rows.get_column(n).cast(pl.String).to_list() for n in self.columns.text]
        else:
            columns = [self._field(rows, n) for n in self.columns.text]
        n = rows.height if isinstance(rows, pl.DataFrame) else len(rows)
        return [["" if c[i] is None else str(c[i]) for c in columns] for i in range(n)]

    def _field(self, rows: Sequence[Mapping[str, Any]], name: str) -> list[Any]:
        try:
            return [row[name] for row in rows]
        except KeyError:
            i = next(i for i, row in enumerate(rows) if name not in row)
            raise DataError(
                f"row {i} is missing field {name!r}",
                where=name,
                hint=f"every row needs: {', '.join(self.columns.all)}",
            ) from None
        except TypeError:
            raise DataError("each row must be a JSON object (a dict of field: value)") from None

    def _index(self, name: str) -> dict[str | None, int]:
        """Category → index lookup, built once per column and cached (with ``_number_forms``)."""
        cache: dict[str, dict[str | None, int]] = self.__dict__.setdefault("_index_cache", {})
        if name not in cache:
            cache[name] = {**_number_forms(self.vocabulary_[name]), **{
                value: i + 1 for i, value in enumerate(self.vocabulary_[name])}}  # fmt: skip
        return cache[name]

    def _assemble(
        self, raw: list[np.ndarray], codes: list[np.ndarray], n: int, texts: list[list[Any]]
    ) -> tuple[np.ndarray, np.ndarray]:
        numeric = np.zeros((n, self.n_numeric_features), dtype=np.float32)
        width, offset = self.text_width, self._n_tabular
        for j, text in enumerate(texts if width else []):
            block = encode_texts(text, encoder=self.text_encoder, buckets=self.text_buckets)
            numeric[:, offset + j * width : offset + (j + 1) * width] = block  # [n, width]
        if raw:
            values = np.stack(raw, axis=1)  # [n, len(numeric)]
            missing = ~np.isfinite(values)
            values = np.where(missing, self.fill_, np.clip(values, self.lower_, self.upper_))
            p = values.shape[1]
            numeric[:, :p] = (values - self.mean_) / self.std_
            position = {name: j for j, name in enumerate(self.columns.numeric)}
            for j, name in enumerate(self.missing_indicator_):
                numeric[:, p + j] = missing[:, position[name]]
            p += len(self.missing_indicator_)
            for j, name in enumerate(self.outlier_flag_):  # fences kept apart for flagging
                column = values[:, position[name]]
                low, high = self.flag_bounds_[name]
                numeric[:, p + j] = (column < low) | (column > high)
        categorical = (
            np.stack(codes, axis=1) if codes else np.zeros((n, 0), dtype=np.int64)
        )  # [n, len(categorical)]
        return numeric, categorical.astype(np.int64, copy=False)

    # -- serialization ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable spec: enough to redo this preprocessing without torch."""
        self._check_fitted()
        return {
            "format": SPEC_FORMAT,
            "version": SPEC_VERSION,
            "numeric": list(self.columns.numeric),
            "categorical": list(self.columns.categorical),
            "min_frequency": self.min_frequency,
            "mean": [float(x) for x in self.mean_],
            "std": [float(x) for x in self.std_],
            "missing_indicator": list(self.missing_indicator_),
            # learned on the training split; null = unbounded / no fill category
            "fill": [float(x) for x in self.fill_],
            "lower": [_finite_or_none(x) for x in self.lower_],
            "upper": [_finite_or_none(x) for x in self.upper_],
            "outlier_flags": {name: list(b) for name, b in self.flag_bounds_.items()},
            "outlier_skipped": dict(self.outlier_skipped_),
            "categorical_fill": dict(self.categorical_fill_),
            "vocabulary": {name: list(v) for name, v in self.vocabulary_.items()},
            "text": list(self.columns.text),
            "text_encoder": self.text_encoder,
            "text_buckets": self.text_buckets,
            "text_finetune": self.text_finetune,
            **self.media.to_dict(),
        }

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> Preprocessor:
        """Rebuild a fitted Preprocessor from ``to_dict()`` output."""
        if spec.get("format") != SPEC_FORMAT or spec.get("version") != SPEC_VERSION:
            raise DataError(
                f"not a preprocessor spec of version {SPEC_VERSION}: "
                f"format={spec.get('format')!r}, version={spec.get('version')!r}"
            )
        columns = FeatureColumns(
            numeric=list(spec["numeric"]),
            categorical=list(spec["categorical"]),
            text=list(spec.get("text", [])),  # specs written before text support have none
            images=list(spec.get("images", [])),
            audio=list(spec.get("audio", [])),
        )
        media = MediaSpec.from_dict(spec)
        self = cls(
            columns,
            min_frequency=int(spec["min_frequency"]),
            text_encoder=str(spec.get("text_encoder", "hashed")),
            text_buckets=int(spec.get("text_buckets", 1024)),
            text_finetune=bool(spec.get("text_finetune", False)),
            image_size=media.image_size,
            audio_samples=media.audio_samples,
        )
        self.mean_ = np.asarray(spec["mean"], dtype=np.float64)
        self.std_ = np.asarray(spec["std"], dtype=np.float64)
        p = len(self.mean_)
        # specs written before clipping and fill values: mean fill, no fences
        self.fill_ = np.asarray(spec.get("fill", self.mean_), dtype=np.float64)
        self.lower_ = _bounds(spec.get("lower"), p, -math.inf)
        self.upper_ = _bounds(spec.get("upper"), p, math.inf)
        flags = spec.get("outlier_flags", {})
        self.flag_bounds_ = {name: (float(b[0]), float(b[1])) for name, b in flags.items()}
        self.outlier_flag_ = list(self.flag_bounds_)
        self.outlier_skipped_ = dict(spec.get("outlier_skipped", {}))
        self.categorical_fill_ = dict(spec.get("categorical_fill", {}))
        self.missing_indicator_ = list(spec["missing_indicator"])
        self.vocabulary_ = {name: list(v) for name, v in spec["vocabulary"].items()}
        return self

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Preprocessor:
        return cls.from_dict(json.loads(text))

    def __repr__(self) -> str:
        state = "fitted" if self.is_fitted else "not fitted"
        return f"Preprocessor({self.columns!r}, min_frequency={self.min_frequency}) [{state}]"
