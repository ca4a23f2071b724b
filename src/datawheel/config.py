"""The project file (`datawheel.yaml`): typed config models, loading, and readable errors."""

from __future__ import annotations

import codecs
import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from datawheel.atomic import atomic_write
from datawheel.errors import ConfigError

__all__ = [
    "OPERATORS",
    "TEXT_OPERATORS",
    "AudioAugmentConfig",
    "AugmentConfig",
    "CleanConfig",
    "ColumnDtype",
    "DataConfig",
    "DedupConfig",
    "Duration",
    "EvaluateConfig",
    "GatesConfig",
    "ImageAugmentConfig",
    "ImagePrivacyConfig",
    "KAnonymityConfig",
    "LoopConfig",
    "MediaCleanConfig",
    "MediaDedupConfig",
    "MissingConfig",
    "ModelConfig",
    "NearDedupConfig",
    "NormalizeConfig",
    "OutliersConfig",
    "PlanConfig",
    "PrivacyConfig",
    "ProjectConfig",
    "RuleConfig",
    "ServeConfig",
    "TextPrivacyConfig",
    "TrainConfig",
    "TunedSettings",
    "default_tuned_path",
    "load_config",
    "parse_config",
    "read_tuned",
    "reference_tuned",
]

PROJECT_FILE = "datawheel.yaml"
TUNABLE_SECTIONS = ("model", "train")  # what a tuned file may set

# The anonymization operators by name — the one list. A project file is checked against it when
# it is loaded; `privacy/operators.py`'s REGISTRY says what each one does (a test keeps the two
# equal). Every operator works on a column; `generalize` needs a column's values (bins, dates),
# so free-text spans take the others.
OPERATORS = ("pseudonymize", "redact", "mask", "generalize", "encrypt", "drop", "keep")
TEXT_OPERATORS = tuple(name for name in OPERATORS if name != "generalize")
#: Names ``evaluate.metric`` accepts: the metrics ``datawheel.evaluate.metrics`` registers
#: (a test keeps the two lists equal). Whether one fits the task is checked when training.
METRIC_NAMES = (
    "roc_auc", "balanced_accuracy", "macro_f1", "f1", "precision", "recall", "accuracy",
    "log_loss", "brier", "rmse", "mae", "r2",
)  # fmt: skip


class _Strict(BaseModel):
    """Every config model rejects unknown keys, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# A column type that data.dtypes may declare (see io.DTYPES for how each is read).
ColumnDtype = Literal["string", "int", "float", "bool", "date", "datetime", "category"]


class DataConfig(_Strict):
    source: str  # the raw table: .csv, .parquet or .jsonl (optionally .gz), relative to the file
    target: str  # the label column
    id: str | None = None  # the data-subject column: erasure, lineage, and grouped splits
    # a timestamp (or ordered number) column: the split trains on the past, tests on the future;
    # it orders the split and is kept out of the features
    time: str | None = None
    # the class precision, recall and F1 are about (binary); default: the last in sorted order
    positive_class: str | None = None
    text: list[str] = []  # free-text columns
    sensitive: list[str] = []  # fairness groups (reported and gated, still used as features)
    ignore: list[str] = []  # columns never used as features
    # auto: a number with many distinct values is a regression, anything else classification
    task: Literal["auto", "binary", "multiclass", "regression"] = "auto"
    # text encoding of CSV / JSON-lines files; auto detects UTF-8 (BOM or not), UTF-16,
    # GB18030/GBK, Big5 and Windows-1252. A command's --encoding overrides it.
    encoding: str = "auto"
    # column -> type, read as declared (e.g. {手机号: string}); codes such as ID-card and
    # phone numbers are read as text without it
    dtypes: dict[str, ColumnDtype] = {}
    # where `datawheel run` cleans, clusters duplicates and anonymizes: this process, or a Ray
    # cluster (extra 'ray'); splitting and training stay on this host
    engine: Literal["local", "ray"] = "local"
    # the Ray cluster, HOST:PORT; unset: RAY_ADDRESS, else a one-machine cluster
    ray_address: str | None = None
    # image columns (PNG, JPEG, WebP, GIF) and audio columns (WAV, FLAC, OGG, MP3): each value
    # a file path relative to the data file, the bytes (Parquet binary), base64 or a data: URI
    images: list[str] = []
    audio: list[str] = []

    @field_validator("images", "audio")
    @classmethod
    def _media_roles_apart(cls, columns: list[str], info: Any) -> list[str]:
        """A media column is an input of its own kind: never the target, id, time or text."""
        key = info.field_name
        others = {
            "target": [info.data.get("target")],
            "id": [info.data.get("id")],
            "time": [info.data.get("time")],
            "text": info.data.get("text") or [],
            "dtypes": list(info.data.get("dtypes") or {}),
            "images": info.data.get("images") or [] if key == "audio" else [],
        }
        for column in columns:
            for other, names in others.items():
                if column in names:
                    raise ValueError(
                        f"column {column!r} is also in data.{other}; a column holds images, "
                        f"audio or something else — name it under one key"
                    )
        return columns

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        if value != "auto":
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(
                    "unknown encoding; use auto, utf-8, gb18030, big5, utf-16 or latin-1"
                ) from None
        return value

    @field_validator("positive_class", mode="before")
    @classmethod
    def _class_as_text(cls, value: Any) -> Any:
        """``positive_class: 1`` in YAML is an int; labels are compared as text."""
        if isinstance(value, bool):
            return str(value).lower()
        return str(value) if isinstance(value, int | float) else value

    @field_validator("time")
    @classmethod
    def _time_not_target(cls, value: str | None, info: Any) -> str | None:
        if value is not None and value == info.data.get("target"):
            raise ValueError("data.time cannot be the target column")
        return value


class NearDedupConfig(_Strict):
    fields: list[str] = []  # text columns compared for near duplicates; [] = off
    threshold: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.8  # Jaccard similarity
    # shingle size in tokens (words; characters for CJK); None = 5 for both
    ngram: Annotated[int, Field(ge=1)] | None = None


class MediaDedupConfig(_Strict):
    exact: bool = True  # drop rows whose image or clip has the same content as an earlier row's
    near: bool = True  # drop rows whose image looks like an earlier row's (perceptual hash)
    # the most bits two 64-bit perceptual hashes (pHash) may differ in to count as the same
    # picture: 0 = identical hashes; ~6 catches re-encodes, resizes and small edits
    max_distance: Annotated[int, Field(ge=0, le=24)] = 6


class DedupConfig(_Strict):
    exact: bool = True  # drop rows identical after normalization (the id column ignored)
    near: NearDedupConfig = NearDedupConfig()
    media: MediaDedupConfig = MediaDedupConfig()  # the data.images / data.audio columns


MissingNumeric = Literal["drop", "median", "mean", "most_frequent", "constant", "ffill", "none"]
MissingCategorical = Literal["drop", "most_frequent", "constant", "ffill", "none"]


class MissingConfig(_Strict):
    numeric: MissingNumeric = "median"
    categorical: MissingCategorical = "most_frequent"
    fill_value: str | float | None = None  # used by "constant"


class OutliersConfig(_Strict):
    method: Literal["iqr", "zscore", "none"] = "iqr"
    factor: Annotated[float, Field(gt=0.0)] = 1.5  # IQR multiple, or z-score cut-off
    action: Literal["clip", "drop", "flag"] = "clip"
    # a column with more than this share of values beyond the bounds is left alone (its shape)
    max_share: Annotated[float, Field(gt=0.0, le=1.0)] = 0.05


class RuleConfig(_Strict):
    when: str  # a boolean expression over columns, e.g. "hours_per_week > 60"
    set: dict[str, Any]  # columns to set where it holds


# a [low, high] pair of floats (YAML: ``[0.8, 1.0]``); each model checks its bounds
Range = tuple[float, float]


def _check_range(value: Range, info: Any, bounds: dict[str, Range]) -> Range:
    low, high = bounds[info.field_name]
    lo, hi = value
    if not (low <= lo <= hi <= high):
        raise ValueError(f"must be [low, high] with {low:g} <= low <= high <= {high:g}")
    return value


def _switch(value: Any) -> Any:
    """``images: true`` is short for ``images: {enabled: true}``; a mapping of settings turns
    the augmentation on unless it says ``enabled: false``."""
    if isinstance(value, bool):
        return {"enabled": value}
    if isinstance(value, dict):
        return {"enabled": True, **value}
    return value


class ImageAugmentConfig(_Strict):
    """Random changes to training images, drawn anew each epoch
    (``datawheel.data.media.augment``)."""

    enabled: bool = False
    crop_scale: Range = (0.8, 1.0)  # random resized crop: share of the area kept
    crop_ratio: Range = (0.75, 1.3333)  # ... and its width / height
    rotation: Annotated[float, Field(ge=0.0, le=180.0)] = 15.0  # degrees, either way
    scale: Range = (0.9, 1.1)  # zoom about the centre (after the crop)
    flip: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5  # probability of a left-right mirror
    brightness: Annotated[float, Field(ge=0.0, le=1.0)] = 0.2  # factor in [1 - b, 1 + b]
    contrast: Annotated[float, Field(ge=0.0, le=1.0)] = 0.2
    saturation: Annotated[float, Field(ge=0.0, le=1.0)] = 0.2
    hue: Annotated[float, Field(ge=0.0, le=0.5)] = 0.02  # shift, in turns of the colour wheel

    @field_validator("crop_scale", "crop_ratio", "scale")
    @classmethod
    def _in_bounds(cls, value: Range, info: Any) -> Range:
        bounds = {"crop_scale": (0.05, 1.0), "crop_ratio": (0.2, 5.0), "scale": (0.25, 4.0)}
        return _check_range(value, info, bounds)


class AudioAugmentConfig(_Strict):
    """Random changes to training clips, drawn anew each epoch
    (``datawheel.data.media.augment``)."""

    enabled: bool = False
    shift: Annotated[float, Field(ge=0.0, le=5.0)] = 0.1  # seconds, either way (silence fills)
    gain_db: Annotated[float, Field(ge=0.0, le=30.0)] = 6.0  # uniform in [-gain_db, +gain_db]
    noise_snr_db: Range = (20.0, 40.0)  # white noise at this signal/noise ratio
    noise: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5  # probability of adding noise
    speed: Range = (0.9, 1.1)  # playback rate (pitch moves with it)

    @field_validator("noise_snr_db", "speed")
    @classmethod
    def _in_bounds(cls, value: Range, info: Any) -> Range:
        return _check_range(value, info, {"noise_snr_db": (-10.0, 100.0), "speed": (0.5, 2.0)})


class AugmentConfig(_Strict):
    copies: Annotated[int, Field(ge=0)] = 0  # extra noisy copies of each training row
    numeric_noise: Annotated[float, Field(ge=0.0)] = 0.0  # Gaussian noise, in standard deviations
    # the data.images / data.audio columns of the training split, changed on the fly
    images: ImageAugmentConfig = ImageAugmentConfig()
    audio: AudioAugmentConfig = AudioAugmentConfig()

    @field_validator("images", "audio", mode="before")
    @classmethod
    def _on_off(cls, value: Any) -> Any:
        return _switch(value)


class NormalizeConfig(_Strict):
    text: bool = False  # NFKC, trim and collapse whitespace in the text columns
    lowercase: bool = False  # also lower-case them (with text: true)


class MediaCleanConfig(_Strict):
    """How the data stage checks and normalizes the data.images / data.audio columns."""

    # a file that is missing or does not decode: keep the row without it (the model handles a
    # missing image or clip), or drop the row; either way it is counted and listed
    on_error: Literal["keep", "drop"] = "keep"
    max_bytes: Annotated[int, Field(ge=1)] = 50 * 1024 * 1024  # a larger file is refused
    max_pixels: Annotated[int, Field(ge=1)] = 40_000_000  # width x height; larger is refused
    max_seconds: Annotated[float, Field(gt=0.0, le=600.0)] = 30.0  # longer clips are cut
    trim_silence: bool = True  # cut leading and trailing silence off each clip
    # quieter than the clip's peak by this many dB counts as silence
    silence_db: Annotated[float, Field(gt=0.0, le=120.0)] = 40.0


class CleanConfig(_Strict):
    dedup: DedupConfig = DedupConfig()
    missing: MissingConfig = MissingConfig()
    outliers: OutliersConfig = OutliersConfig()
    rules: list[RuleConfig] = []
    normalize: NormalizeConfig = NormalizeConfig()
    augment: AugmentConfig = AugmentConfig()
    media: MediaCleanConfig = MediaCleanConfig()


ColumnRule = str | dict[str, Any]


class TextPrivacyConfig(_Strict):
    entities: Literal["all"] | list[str] = "all"
    operator: str = "pseudonymize"  # one of TEXT_OPERATORS, applied to each PII span

    @field_validator("operator")
    @classmethod
    def _known_operator(cls, name: str) -> str:
        if name not in TEXT_OPERATORS:
            raise ValueError(f"unknown text operator; use one of {', '.join(TEXT_OPERATORS)}")
        return name


class KAnonymityConfig(_Strict):
    quasi_identifiers: list[str] = []
    k: Annotated[int, Field(ge=1)] = 5
    enforce: bool = False


class ImagePrivacyConfig(_Strict):
    # blur: faces found by OpenCV's Haar cascade are blurred before anonymized data is stored,
    # trained on or served; none (or keep): pictures keep their faces
    faces: Literal["blur", "none", "keep"] = "none"
    # EXIF, XMP and IPTC (GPS position, device serial, owner name) are always removed
    strip_metadata: bool = True

    @field_validator("strip_metadata")
    @classmethod
    def _always_strip(cls, value: bool) -> bool:
        if not value:
            raise ValueError(
                "image metadata is always stripped (GPS position, device serials and owner "
                "names are personal data); remove the key"
            )
        return value


class PrivacyConfig(_Strict):
    # column -> operator: "pseudonymize" | "redact" | "encrypt" | "drop" | "keep" |
    # {"mask": keep_last_n} | {"generalize": bin_width}
    columns: dict[str, ColumnRule] = {}
    text: TextPrivacyConfig = TextPrivacyConfig()
    k_anonymity: KAnonymityConfig = KAnonymityConfig()
    images: ImagePrivacyConfig = ImagePrivacyConfig()  # the data.images columns
    # true: `run` refuses a column that looks like PII but has no rule (else it warns)
    require_rules: bool = False

    @field_validator("columns")
    @classmethod
    def _known_operators(cls, columns: dict[str, ColumnRule]) -> dict[str, ColumnRule]:
        for column, rule in columns.items():
            name = rule if isinstance(rule, str) else (next(iter(rule)) if len(rule) == 1 else "")
            if name not in OPERATORS:
                raise ValueError(
                    f"column {column!r}: unknown operator {rule!r}; "
                    f"use one of {', '.join(OPERATORS)}"
                )
        return columns


class ModelConfig(_Strict):
    # auto: train linear, gbm and mlp, keep the best on validation (the simpler within noise);
    # mlp: the neural network on every input; gbm: LightGBM trees; linear: logistic / ridge
    # regression; tabular / text / multimodal: the MLP on those inputs only
    kind: Literal["auto", "mlp", "gbm", "linear", "tabular", "text", "multimodal"] = "auto"
    hidden: list[Annotated[int, Field(ge=1)]] = [128, 64]  # widths of the hidden layers
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1
    # hashed: character/word n-gram bag, any language; minilm: frozen MiniLM vectors (extra `text`)
    text_encoder: Literal["hashed", "minilm"] = "hashed"
    text_buckets: Annotated[int, Field(ge=16)] = 1024  # hashed bag width per text column
    # minilm only: train the transformer with the head (else frozen vectors, cached on disk)
    finetune: bool = False
    encoder_lr: Annotated[float, Field(gt=0.0)] = 2e-5  # the transformer's learning rate
    max_length: Annotated[int, Field(ge=8, le=512)] = 128  # tokens kept per text when fine-tuned
    # image and audio columns (data.images, data.audio): each has a small CNN trained with the
    # head; an image is letterboxed to image_size x image_size pixels, a clip cut or padded to
    # audio_seconds at 16 kHz, and each becomes media_dim numbers beside the table's inputs
    image_size: Annotated[int, Field(ge=8, le=512)] = 32
    audio_seconds: Annotated[float, Field(gt=0.0, le=60.0)] = 2.0
    media_dim: Annotated[int, Field(ge=2, le=1024)] = 64

    @field_validator("finetune")
    @classmethod
    def _finetune_needs_minilm(cls, value: bool, info: Any) -> bool:
        if value and info.data.get("text_encoder") != "minilm":
            raise ValueError("finetune: true needs text_encoder: minilm")
        return value


class TrainPrivacyConfig(_Strict):
    # DP-SGD (Opacus): the whole run spends at most (epsilon, delta) on the training split
    epsilon: Annotated[float, Field(gt=0.0)]
    delta: Annotated[float, Field(gt=0.0, lt=1.0)] = 1e-5
    max_grad_norm: Annotated[float, Field(gt=0.0)] = 1.0  # per-example gradient clip


class TrainConfig(_Strict):
    epochs: Annotated[int, Field(ge=1)] = 30
    batch_size: Annotated[int, Field(ge=1)] = 256
    lr: Annotated[float, Field(gt=0.0)] = 0.001
    weight_decay: Annotated[float, Field(ge=0.0)] = 0.0001
    early_stopping: Annotated[int, Field(ge=0)] = 5  # epochs without improvement; 0 = off
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    seed: int = 0
    validation_fraction: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.15
    test_fraction: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.2
    label_smoothing: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    grad_clip: Annotated[float, Field(ge=0.0)] = 1.0  # max gradient norm; 0 = off
    schedule: Literal["none", "cosine", "onecycle"] = "cosine"
    # weight the loss by inverse class frequency; auto: when the classes are imbalanced
    # (the smallest below 40 % of a balanced share: a binary minority under 20 %)
    class_weights: bool | Literal["auto"] = "auto"
    grad_accumulation: Annotated[int, Field(ge=1)] = 1  # batches summed per optimizer step
    checkpoint: bool = True  # write a resumable checkpoint every epoch (pipeline runs)
    privacy: TrainPrivacyConfig | None = None  # differentially private training (DP-SGD)
    loss: Literal["auto", "mse", "huber"] = "auto"  # regression loss; auto = mse
    interval: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.9  # prediction-interval coverage
    # refit the chosen gbm / linear model on train + validation (rounds, penalty as chosen)
    refit: bool = True


class GatesConfig(_Strict):
    # the challenger's gain on the primary metric (evaluate.metric), measured on the same rows
    # as the champion, must be at least this AND significant at `confidence`; a tie never wins
    min_improvement: Annotated[float, Field(ge=0.0)] = 0.0
    # one-sided confidence of the paired bootstrap test (and of the beat-the-baseline check)
    confidence: Annotated[float, Field(ge=0.5, lt=1.0)] = 0.95
    # a retrain forced by an erasure only needs to be non-inferior: its gain's lower confidence
    # bound must stay above -erasure_margin (primary-metric units)
    erasure_margin: Annotated[float, Field(ge=0.0, le=1.0)] = 0.02
    max_fairness_gap: Annotated[float, Field(ge=0.0, le=1.0)] = 0.1
    # a group's TPR counts toward the gated gap with at least this many positives, its FPR
    # with this many negatives; smaller groups are reported, not gated
    min_group_size: Annotated[int, Field(ge=1)] = 30
    max_latency_ms: Annotated[float, Field(gt=0.0)] = 50.0  # p99 of a single-row prediction


class PlanConfig(_Strict):
    requests_per_minute: Annotated[int, Field(ge=1)]
    monthly_quota: Annotated[int, Field(ge=1)]  # rows predicted per calendar month
    # /v1/feedback has its own bucket, so feedback can neither spend the prediction budget nor
    # keep the PII scrubber (tens of ms for a long comment) busy for other tenants
    feedback_per_minute: Annotated[int, Field(ge=1)] = 60
    feedback_max_chars: Annotated[int, Field(ge=1, le=20_000)] = 2_000  # per free-text field


def _default_plans() -> dict[str, PlanConfig]:
    return {
        "free": PlanConfig(requests_per_minute=60, monthly_quota=10_000),
        "pro": PlanConfig(
            requests_per_minute=6_000, monthly_quota=10_000_000, feedback_per_minute=6_000
        ),
    }


class ServeConfig(_Strict):
    plans: dict[str, PlanConfig] = Field(default_factory=_default_plans)
    max_rows_per_request: Annotated[int, Field(ge=1)] = 1000  # more rows → 422 on `rows`
    max_body_bytes: Annotated[int, Field(ge=1024)] = 1_048_576  # larger bodies → 413 (bytes)
    # one image or clip in a request (after base64 decoding); larger → 413 naming the field
    max_media_bytes: Annotated[int, Field(ge=1024)] = 10_485_760
    auth_cache_seconds: Annotated[float, Field(ge=0.0)] = 5.0  # a revoked key works at most this
    batch_max_rows: Annotated[int, Field(ge=1)] = 64  # rows in one micro-batched forward pass
    batch_max_wait_ms: Annotated[float, Field(ge=0.0)] = 2.0  # wait for more rows (under load)
    log_flush_ms: Annotated[float, Field(gt=0.0)] = 5.0  # write-behind of predictions and usage
    quota_lease_rows: Annotated[int, Field(ge=1)] = 10_000  # most quota rows leased at once
    rate_lease_requests: Annotated[int, Field(ge=1)] = 2_000  # most rate tokens a worker leases
    request_timeout_seconds: Annotated[float, Field(gt=0.0)] = 10.0  # then 503, Retry-After
    # a quota lease not renewed for this long (its worker died) returns its rows to the tenant
    quota_lease_seconds: Annotated[float, Field(ge=1.0)] = 60.0
    # non-empty: /v1/feedback's `issue` must be one of these (a closed vocabulary holds no PII);
    # empty: any text up to 80 characters, scrubbed of PII like `comment`
    feedback_issues: list[Annotated[str, Field(min_length=1, max_length=80)]] = []


# A span of time such as "90s", "30m", "24h", "7d" or "2w".
Duration = Annotated[str, Field(pattern=r"^\d+(\.\d+)?[smhdw]$")]


class LoopConfig(_Strict):
    # Retrain when live accuracy on labeled feedback (within `window`) drops below this …
    accuracy_below: Annotated[float, Field(ge=0.0, le=1.0)] = 0.9
    min_labeled_feedback: Annotated[int, Field(ge=1)] = 100  # … and at least this many labels
    # A regression retrains when its live RMSE exceeds its offline (test) RMSE by this factor
    error_ratio_above: Annotated[float, Field(gt=1.0)] = 1.25
    window: Duration = "30d"  # how far back live accuracy and feedback trends look
    # Retrain (and alert) when a feature's PSI, training reference vs recent requests, exceeds this
    drift_psi_above: Annotated[float, Field(gt=0.0)] = 0.25
    drift_recent_requests: Annotated[int, Field(ge=10)] = 1000  # the last N served rows …
    drift_window: Duration = "7d"  # … no older than this, are compared with the reference
    drift_min_requests: Annotated[int, Field(ge=1)] = 200  # fewer: drift is not judged (noise)
    retrain_every: Duration | None = None  # e.g. "7d": retrain on a schedule; None = off
    holdout_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.3  # feedback kept for the gate
    # > 0: a challenger that passes the offline gate serves in shadow (stage "shadow") and is
    # promoted only after this many shadowed requests got labels and it was at least as accurate
    shadow_requests: Annotated[int, Field(ge=0)] = 0
    # Poisoning defence: drop the feedback of a tenant whose labels agree with the served
    # model's confident predictions far less than the other tenants' labels do
    poison_filter: bool = True
    poison_min_labels: Annotated[int, Field(ge=1)] = 30  # judge a tenant only with this many
    poison_max_drop: Annotated[float, Field(gt=0.0, le=1.0)] = 0.25  # agreement below the
    # others' median by more than max(this, 3 × 1.4826 × MAD of the others) → dropped


class EvaluateConfig(_Strict):
    # the primary metric: reports, the gates and the baseline check use it. Default: roc_auc
    # (binary), balanced_accuracy (multiclass), rmse (regression); accuracy only when chosen
    metric: str | None = None

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str | None) -> str | None:
        if value is not None and value not in METRIC_NAMES:
            close = difflib.get_close_matches(value, METRIC_NAMES, n=1)
            hint = (
                f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(METRIC_NAMES)}"
            )
            raise ValueError(f"unknown metric {value!r}; {hint}")
        return value


class CardConfig(_Strict):
    intended_use: str = ""
    limitations: str = ""


class DPBudgetConfig(_Strict):
    # the privacy loss all DP statistics of one dataset may spend together, over its lifetime
    epsilon: Annotated[float, Field(gt=0.0)] = 3.0
    delta: Annotated[float, Field(ge=0.0, lt=1.0)] = 1e-6


class ShareConfig(_Strict):
    dp_budget: DPBudgetConfig = DPBudgetConfig()


class ProjectConfig(_Strict):
    name: str
    data: DataConfig
    clean: CleanConfig = CleanConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    gates: GatesConfig = GatesConfig()
    serve: ServeConfig = Field(default_factory=ServeConfig)
    loop: LoopConfig = LoopConfig()
    card: CardConfig = CardConfig()
    share: ShareConfig = ShareConfig()
    # A file of tuned model:/train: settings (written by `datawheel tune`), relative to this
    # file, merged over the sections above; `datawheel status` shows what it changes. None: off.
    tuned: str | None = None

    @model_validator(mode="after")
    def _private_training_is_possible(self) -> ProjectConfig:
        if self.train.privacy is not None and self.model.finetune:
            raise ValueError(
                "train.privacy cannot train a fine-tuned text encoder (DP-SGD's per-example "
                "gradients of a transformer); set model.finetune: false"
            )
        return self

    def source_path(self, base: Path) -> Path:
        """The raw data file, resolved against the project folder."""
        path = Path(self.data.source)
        return path if path.is_absolute() else base / path


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys a config model accepts at ``loc`` (the parent of an unknown key)."""
    current: Any = model
    for part in loc:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        annotation = field.annotation
        current = annotation if isinstance(annotation, type) else None
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}))


_TYPE_TAG = re.compile(r"^(bool|int|float|str|none|[a-z-]+\[.*\])$")


def _config_error(exc: ValidationError, source: str) -> ConfigError:
    """Turn pydantic's first complaint into one line: key path, bad value, fix."""
    first = exc.errors()[0]
    # a union's member type tags ("bool", "literal['auto']") are not keys of the file
    loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and _TYPE_TAG.match(p)))
    key = ".".join(str(p) for p in loc) or "(top level)"
    where = f"{source}: {key}"
    if first["type"] == "extra_forbidden":
        allowed = _allowed_keys(ProjectConfig, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(allowed)}"
        return ConfigError(f"unknown key {loc[-1]!r}", where=where, hint=hint)
    if first["type"] == "missing":
        return ConfigError("required key is missing", where=where, hint=f"add {key}: ...")
    value = first.get("input")
    message = first["msg"].removeprefix("Value error, ")
    return ConfigError(
        f"{message}, got {value!r}",
        where=where,
        hint="compare with the commented file `datawheel init` writes",
    )


def parse_config(raw: Any, *, source: str = "datawheel.yaml") -> ProjectConfig:
    """Validate an already-parsed mapping into a ProjectConfig."""
    if not isinstance(raw, dict):
        raise ConfigError(
            "the project file must be a mapping of keys",
            where=source,
            hint="start from `datawheel init`",
        )
    try:
        return ProjectConfig.model_validate(raw)
    except ValidationError as exc:
        raise _config_error(exc, source) from None


def read_yaml(path: Path) -> Any:
    """Parse a YAML file, reporting syntax errors with line and column."""
    if not path.is_file():
        raise ConfigError(
            "project file not found", where=str(path), hint="run `datawheel init DIR` or pass -c"
        )
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"invalid YAML: {exc.problem}", where=where) from None
    except UnicodeDecodeError:
        raise ConfigError("the project file is not UTF-8 text", where=str(path)) from None


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Overlay one config mapping on another (the tuned settings on the project file's)."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@dataclass(frozen=True)
class TunedSettings:
    """The tuned file a project file names (its ``tuned`` key) and the settings it overrides."""

    path: Path
    values: dict[str, dict[str, Any]]  # {"model": {...}, "train": {...}}

    def flat(self) -> dict[str, Any]:
        """``{"train.lr": 0.003, ...}``: one entry per overridden setting."""
        return {
            f"{section}.{k}": v for section, keys in self.values.items() for k, v in keys.items()
        }


def default_tuned_path(project_file: Path) -> Path:
    """Where `datawheel tune` writes when the project file names no tuned file yet."""
    return project_file.with_name(project_file.stem + ".tuned.yaml")


def read_tuned(project_file: Path, raw: Any = None) -> TunedSettings | None:
    """The tuned settings the project file names, or None when it names none.

    Nothing is merged silently: a tuned file beside the project file that the file does not
    name is not read (``datawheel status`` points it out).
    """
    raw = read_yaml(project_file) if raw is None else raw
    name = raw.get("tuned") if isinstance(raw, dict) else None
    if name is None:
        return None
    where = f"{project_file.name}: tuned"
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"tuned must be a file name, got {name!r}", where=where,
                          hint=f"e.g. tuned: {default_tuned_path(project_file).name}")  # fmt: skip
    path = project_file.parent / name
    if not path.is_file():
        raise ConfigError(
            f"tuned file not found: {path}",
            where=where,
            hint="run `datawheel tune`, or delete the tuned key to use the settings as written",
        )
    values = read_yaml(path) or {}
    if not isinstance(values, dict) or any(
        key not in TUNABLE_SECTIONS or not isinstance(section, dict)
        for key, section in values.items()
    ):
        raise ConfigError(
            "a tuned file holds only model: and train: mappings",
            where=str(path),
            hint="let `datawheel tune` write it, or move other settings to the project file",
        )
    return TunedSettings(path, values)


def reference_tuned(project_file: Path, name: str) -> None:
    """Add ``tuned: NAME`` to the end of the project file, leaving the rest as written."""
    text = project_file.read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    addition = (
        "\n# settings found by `datawheel tune`, merged over model: and train: above;\n"
        f"# delete this line to train with the settings as written\ntuned: {name}\n"
    )
    new = text + ("" if text.endswith("\n") or not text else "\n") + addition
    try:
        appended = yaml.safe_load(new)
    except yaml.YAMLError:
        appended = None
    if not isinstance(raw, dict) or "tuned" in raw or appended != {**raw, "tuned": name}:
        raise ConfigError(
            "cannot add the tuned key to this project file (not a block mapping, or it has one)",
            where=str(project_file),
            hint=f"add the line `tuned: {name}` to it yourself",
        )
    atomic_write(project_file, new)


def load_config(path: str | Path, *, check_source: bool = True) -> ProjectConfig:
    """Load and validate the project file; with ``check_source`` the data file must exist.

    When the file names a tuned file (``tuned: datawheel.tuned.yaml``), its model: and train:
    settings are merged over the file's; an error in them names the tuned file.
    """
    path = Path(path)
    raw = read_yaml(path)
    config = parse_config(raw, source=path.name)  # the project file alone must be valid
    tuned = read_tuned(path, raw)
    if tuned is not None:
        config = parse_config(deep_merge(raw, tuned.values), source=tuned.path.name)
    if check_source:
        source = config.source_path(path.parent)
        if not source.is_file():
            raise ConfigError(
                f"data file not found: {source}",
                where=f"{path.name}: data.source",
                hint="fix the path (relative paths start at the project file's folder)",
            )
    return config
