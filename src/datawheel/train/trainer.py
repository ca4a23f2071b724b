"""The training loop: one function that reads top to bottom, from one CPU to DDP on GPUs."""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import polars as pl
import torch
from torch import nn
from torch.nn import functional as F

from datawheel.config import CleanConfig, ModelConfig, TrainConfig
from datawheel.errors import DataError, UsageError
from datawheel.train.bundle import TrainedModel
from datawheel.train.checkpoint import load_checkpoint, restore_rng, rng_state, save_checkpoint
from datawheel.train.distributed import dist_info
from datawheel.train.features import FeatureColumns, Preprocessor
from datawheel.train.finetune import FinetunedTextMLP
from datawheel.train.media_inputs import MediaArrays, MediaAugmenter
from datawheel.train.media_net import AUDIO_RATE, FusionNet
from datawheel.train.model import TabularMLP

if TYPE_CHECKING:
    from torch.nn.parallel import DistributedDataParallel

BACKGROUND_ROWS = 100  # rows kept with the model as the explainers' baseline

__all__ = [
    "TrainResult",
    "class_weights_for",
    "resolve_device",
    "resolve_precision",
    "train_classifier",
]

EVAL_BATCH = 8192  # rows per validation forward pass; bounds memory, not results
FINETUNE_EVAL_BATCH = 64  # the same with a transformer in the forward pass
MEDIA_EVAL_BATCH = 256  # the same with images or clips in the forward pass
MIN_DELTA = 1e-4  # a validation loss must beat the best by this much to count as progress


@dataclass
class TrainResult:
    """What a training run produced: the servable model and how it got there."""

    model: TrainedModel
    history: list[dict[str, float]] = field(default_factory=list)  # one dict per epoch
    best_epoch: int = 0  # 1-based epoch whose weights the model holds
    seconds: float = 0.0  # wall time of the whole call
    device: str = "cpu"
    precision: str = "fp32"
    resumed_from: int = 0  # the checkpoint's epoch when the run was resumed, else 0
    stopped: bool = False  # stopped by ``on_epoch`` (e.g. a pruned tuning trial)
    world_size: int = 1  # processes that trained together (DDP)
    privacy: dict[str, Any] | None = None  # DP-SGD: the epsilon spent and how (train.privacy)
    # image / audio values that did not decode, by "column:reason" (trained as missing)
    media_rejected: dict[str, int] = field(default_factory=dict)


EpochCallback = Callable[[dict[str, float]], bool | None]
# (the training split's media, a batch's row indices, the epoch) → that batch's media, changed
MediaAugment = Callable[[MediaArrays, np.ndarray, int], MediaArrays]


def train_classifier(
    train: pl.DataFrame,
    val: pl.DataFrame,
    *,
    features: FeatureColumns,
    target: str,
    model_config: ModelConfig,
    train_config: TrainConfig,
    progress: bool = True,
    checkpoint_path: Path | None = None,
    resume: bool = False,
    fingerprint: str = "",
    on_epoch: EpochCallback | None = None,
    task: str = "classification",
    clean_config: CleanConfig | None = None,
    media_dir: Path | None = None,
    augment: MediaAugment | None = None,
) -> TrainResult:
    """Fit the preprocessing on ``train``, train a TabularMLP, keep the best epoch on ``val``.

    ``task="regression"`` (or ``"binary"``/``"multiclass"``, both classification) trains one
    output on the standardized target with ``train.loss`` (MSE or Huber); the model undoes
    the scaling, so it predicts in the target's units.

    ``clean_config`` (the project's ``clean:``) makes missing-value fills and outlier fences
    part of the fitted preprocessing (``Preprocessor.from_config``), so every path that serves
    the model transforms raw rows exactly as training did. Class weights follow
    ``train.class_weights``; ``auto`` turns them on when the training classes are imbalanced.

    With ``model_config.finetune`` the network is a FinetunedTextMLP: MiniLM trained with the
    head (``encoder_lr`` for the transformer), text tokenized per batch in the loop.

    With image or audio columns (``features.images`` / ``features.audio``) the network is a
    FusionNet: every value is decoded once (paths relative to ``media_dir``), fitted to the
    encoders' shape, and fed per batch; ``augment`` (by default ``clean.augment.images`` /
    ``.audio`` from ``clean_config``) changes each training batch's media, never
    validation's. A value that does not decode trains as missing (counted in
    ``media_rejected``), as a missing one does.

    ``checkpoint_path``: where rank 0 writes a resumable checkpoint after every epoch; with
    ``resume`` an existing one is continued, bit for bit (same data, settings and threads).
    ``on_epoch`` sees each epoch's history row; returning True stops training (pruning).
    Under DDP (``torch.distributed`` initialized) every rank trains on its stride of each
    global batch and gradients are averaged, so the result matches one process.

    Threads: this function leaves torch's global thread settings alone; the caller (the CLI)
    pins them. Results are deterministic for a seed on CPU with a fixed thread count; on CUDA,
    embedding gradients are summed with atomics, so the last digits may differ between runs.
    """
    started = time.perf_counter()
    cfg = train_config
    dist = dist_info()

    # -- setup: seed, device, precision -------------------------------------------------------
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)  # also seeds every CUDA device
    device = resolve_device(cfg.device)
    if device.type == "cuda" and dist.active:
        device = torch.device("cuda", dist.local_rank)
    precision = resolve_precision(cfg.precision, device)
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    autocast = (
        torch.autocast(device_type=device.type, dtype=amp_dtype) if amp_dtype else nullcontext()
    )  # a no-op in fp32
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")  # fp16 only

    # -- data: preprocessing fitted on train only, tensors built once --------------------------
    regression = task == "regression"
    classes = _check_inputs(train, val, features, target, regression=regression)
    scale = _target_scale(train, target) if regression else (0.0, 1.0)
    if cfg.privacy is not None and features.media:
        raise UsageError(
            "differentially private training (train.privacy) is for tables and text; "
            "this model has image or audio columns",
            hint="drop train.privacy, or leave the media out with model.kind: tabular",
        )
    if cfg.privacy is not None:  # DP-SGD has its own loop (Poisson batches, per-sample clipping)
        from datawheel.train.private import train_private

        if regression:
            raise UsageError(
                "differentially private training (train.privacy) is for classification",
                hint="drop train.privacy, or set data.task to binary or multiclass",
            )
        model_dp, history_dp, record, seconds = train_private(
            train, val, features=features, target=target, model_config=model_config,
            train_config=cfg, classes=classes, tensors=_tensors, background=_background,
            progress_bar=lambda epochs: _progress_bar(progress and dist.is_main, epochs),
            clean_config=clean_config,
        )  # fmt: skip
        return TrainResult(
            model=model_dp, history=history_dp, best_epoch=cfg.epochs, seconds=seconds,
            device="cpu", precision="fp32", privacy=record,
        )  # fmt: skip
    finetune = model_config.finetune
    if finetune and not features.text:
        raise UsageError(
            "model.finetune needs at least one text column",
            hint="declare data.text columns, or set model.finetune: false",
        )
    if finetune and features.media:
        raise UsageError(
            "model.finetune (MiniLM) cannot be combined with image or audio columns",
            hint="set model.finetune: false; text then enters the fusion model as vectors",
        )
    state = _load_resume(checkpoint_path, fingerprint) if resume else None
    if state is not None:  # the checkpoint's preprocessing: resumed runs see identical inputs
        preprocessor = Preprocessor.from_json(state["preprocessor"])
    elif clean_config is not None:
        preprocessor = Preprocessor.from_config(features, clean_config, model_config).fit(train)
    else:
        preprocessor = Preprocessor(
            features,
            text_encoder=model_config.text_encoder,
            text_buckets=model_config.text_buckets,
            text_finetune=finetune,
            image_size=model_config.image_size,
            audio_samples=round(model_config.audio_seconds * AUDIO_RATE),
        ).fit(train)
    x_num, x_cat, y = _tensors(preprocessor, train, target, classes, device, scale)
    v_num, v_cat, v_y = _tensors(preprocessor, val, target, classes, device, scale)
    n_out = 1 if regression else len(classes)
    # fine-tuning: raw strings, tokenized per batch inside the loop
    x_text = preprocessor.texts(train) if finetune else []
    v_text = preprocessor.texts(val) if finetune else []
    # images and clips: decoded once, fitted to one shape, turned into tensors per batch
    media = preprocessor.media
    x_media = media.arrays(train, base_dir=media_dir) if media else None
    v_media = media.arrays(val, base_dir=media_dir) if media else None
    if media and augment is None and clean_config is not None:  # clean.augment.images / audio
        chosen = clean_config.augment
        augmenter = MediaAugmenter(media, chosen.images, chosen.audio, seed=cfg.seed)
        augment = augmenter if augmenter else None
    n, batch_size, accumulate = len(y), cfg.batch_size, cfg.grad_accumulation
    n_batches = math.ceil(n / batch_size)
    if dist.active and n % batch_size and n % batch_size < dist.world_size:
        n_batches -= 1  # a last batch smaller than the world would leave a rank without rows
    steps_per_epoch = math.ceil(n_batches / accumulate)
    total_steps = max(1, cfg.epochs * steps_per_epoch)

    # -- model, optimizer, loss, schedule -----------------------------------------------------
    raw_model: TabularMLP | FinetunedTextMLP | FusionNet
    if media:
        raw_model = FusionNet(
            preprocessor.n_numeric_features,
            preprocessor.cardinalities,
            n_out,
            n_images=len(media.images),
            n_audio=len(media.audio),
            dim=model_config.media_dim,
            hidden=model_config.hidden,
            dropout=model_config.dropout,
        ).to(device)
        groups = [{"params": list(raw_model.parameters()), "lr": cfg.lr}]
    elif finetune:
        raw_model = FinetunedTextMLP(
            preprocessor.n_numeric_features,
            preprocessor.cardinalities,
            n_out,
            n_text=len(features.text),
            max_length=model_config.max_length,
            hidden=model_config.hidden,
            dropout=model_config.dropout,
        ).to(device)
        groups = [  # the head at ``lr``, the pretrained transformer gently at ``encoder_lr``
            {"params": list(raw_model.head.parameters()), "lr": cfg.lr},
            {"params": list(raw_model.encoder.parameters()), "lr": model_config.encoder_lr},
        ]
    else:
        raw_model = TabularMLP(
            preprocessor.n_numeric_features,
            preprocessor.cardinalities,
            n_out,
            hidden=model_config.hidden,
            dropout=model_config.dropout,
        ).to(device)
        groups = [{"params": list(raw_model.parameters()), "lr": cfg.lr}]
    optimizer = torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)

    def text_inputs(texts: list[list[str]], rows: torch.Tensor | slice) -> list[torch.Tensor]:
        """The token tensors of some rows when fine-tuning; nothing for the plain MLP."""
        if not finetune:
            return []
        assert isinstance(raw_model, FinetunedTextMLP)
        picked = texts[rows] if isinstance(rows, slice) else [texts[i] for i in rows.tolist()]
        return [t.to(device) for t in raw_model.tokenize(picked)]  # ids, mask [B, T, L]

    def media_inputs(
        arrays: MediaArrays | None, rows: torch.Tensor | slice, epoch: int = 0
    ) -> list[torch.Tensor]:
        """Pixels / waves and present masks of some rows; a training batch (``epoch`` > 0)
        augmented first when ``augment`` is set."""
        if arrays is None:
            return []
        if epoch and augment is not None:
            assert isinstance(rows, torch.Tensor)
            return augment(arrays, rows.cpu().numpy(), epoch).tensors(None, device)
        return arrays.tensors(rows, device)  # pixels [B, 3, S, S], waves [B, samples], masks

    loss_fn: nn.Module
    if regression:  # on the standardized target; Huber's delta of 1 is one target std
        loss_fn = nn.HuberLoss(delta=1.0) if cfg.loss == "huber" else nn.MSELoss()
    else:
        weigh = _weigh_classes(cfg, y, len(classes))
        weight = _inverse_frequency(y, len(classes)) if weigh else None
        loss_fn = nn.CrossEntropyLoss(weight=weight, label_smoothing=cfg.label_smoothing)
    scheduler = _scheduler(optimizer, cfg, total_steps)
    generator = torch.Generator().manual_seed(cfg.seed)  # batch order, apart from dropout's RNG

    history: list[dict[str, float]] = []
    best_loss, best_epoch, stale, first_epoch, done = math.inf, 0, 0, 1, False
    best_state = _copy_state(raw_model)
    if state is not None:
        raw_model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler") is not None:
            scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        restore_rng(state["rng"], generator)
        history = json.loads(state["history"])
        best_loss, best_epoch, stale = state["best_metric"], state["best_epoch"], state["stale"]
        best_state = {k: v.to(device) for k, v in state["best_state"].items()}
        first_epoch, done = state["epoch"] + 1, bool(state["done"])
    model: nn.Module = raw_model
    if dist.active:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(
            raw_model, device_ids=[device.index] if device.type == "cuda" else None
        )

    @torch.no_grad()
    def estimate_val() -> tuple[float, float]:
        """Plain cross-entropy (no smoothing, no weights) and accuracy on the validation set;
        for a regression, the loss on the standardized target and the RMSE in its units."""
        raw_model.eval()
        if regression:
            sq, lossed = torch.zeros((), device=device), torch.zeros((), device=device)
            step = MEDIA_EVAL_BATCH if media else EVAL_BATCH
            for start in range(0, len(v_y), step):
                sl = slice(start, start + step)
                with autocast:
                    extra = [*text_inputs(v_text, sl), *media_inputs(v_media, sl)]
                    out = raw_model(v_num[sl], v_cat[sl], *extra).float()
                out = out[:, 0]  # [B]
                sq += ((out - v_y[sl]) ** 2).sum()
                lossed += loss_fn(out, v_y[sl]) * len(out)
            mse = sq.item() / len(v_y)
            return lossed.item() / len(v_y), math.sqrt(mse) * scale[1]
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        step = FINETUNE_EVAL_BATCH if finetune else MEDIA_EVAL_BATCH if media else EVAL_BATCH
        for start in range(0, len(v_y), step):
            sl = slice(start, start + step)
            with autocast:
                extra = [*text_inputs(v_text, sl), *media_inputs(v_media, sl)]
                logits = raw_model(v_num[sl], v_cat[sl], *extra).float()
            # labels unseen in train are -100: ignored by the loss, counted wrong in accuracy
            loss_sum += F.cross_entropy(logits, v_y[sl], ignore_index=-100, reduction="sum")
            correct += (logits.argmax(dim=1) == v_y[sl]).sum()
        known = int((v_y >= 0).sum())
        val_loss = loss_sum.item() / known if known else math.nan
        return val_loss, correct.item() / len(v_y)

    def checkpoint(epoch: int, finished: bool) -> None:
        if checkpoint_path is None or not dist.is_main:
            return
        save_checkpoint(
            checkpoint_path,
            {
                "model": _copy_state(raw_model, cpu=True),  # unwrapped: no DDP `.module.`
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "scaler": scaler.state_dict(),
                "rng": rng_state(generator),
                "epoch": epoch,
                "done": finished,
                "best_metric": best_loss,
                "best_epoch": best_epoch,
                "best_state": {k: v.cpu() for k, v in best_state.items()},
                "stale": stale,
                "history": json.dumps(history),
                "model_config": json.dumps(model_config.model_dump()),
                "train_config": json.dumps(cfg.model_dump()),
                "preprocessor": preprocessor.to_json(),
                "classes": list(classes),
                "fingerprint": fingerprint,
            },
        )

    # -- the loop -----------------------------------------------------------------------------
    stopped = False
    epochs = range(first_epoch, cfg.epochs + 1) if not done else range(0)
    with _progress_bar(progress and dist.is_main, cfg.epochs, first_epoch - 1) as advance:
        for epoch in epochs:
            epoch_start = time.perf_counter()
            model.train()
            order = torch.randperm(n, generator=generator).to(device)  # [n], same on every rank
            loss_sum = torch.zeros((), device=device)  # summed on device: no sync per step
            seen = 0
            for b in range(n_batches):
                idx = order[b * batch_size : (b + 1) * batch_size]  # [B]
                if dist.active:
                    idx = idx[dist.rank :: dist.world_size]  # [B / world]: this rank's stride
                group_start = b - b % accumulate
                group = min(accumulate, n_batches - group_start)  # micro-batches in this step
                last_micro = b == group_start + group - 1
                sync = (
                    nullcontext()
                    if last_micro or not dist.active
                    else cast("DistributedDataParallel", model).no_sync()  # wrapped when active
                )
                with sync:
                    with autocast:
                        extra = [  # fine-tuning's tokens, the fusion model's media
                            *text_inputs(x_text, idx),
                            *media_inputs(x_media, idx, epoch),
                        ]
                        logits = model(x_num[idx], x_cat[idx], *extra)  # [B, n_classes]
                        out = logits.float()[:, 0] if regression else logits.float()
                        loss = loss_fn(out, y[idx])
                    scaler.scale(loss / group if group > 1 else loss).backward()
                loss_sum += loss.detach() * len(idx)
                seen += len(idx)
                if not last_micro:
                    continue
                if cfg.grad_clip > 0:
                    scaler.unscale_(optimizer)
                    nn.utils.clip_grad_norm_(raw_model.parameters(), cfg.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                if scheduler is not None:
                    scheduler.step()

            if dist.active:
                import torch.distributed as tdist

                totals = torch.stack([loss_sum, torch.tensor(float(seen), device=device)])  # [2]
                tdist.all_reduce(totals)
                loss_sum, seen = totals[0], int(totals[1].item())
            train_loss = loss_sum.item() / max(seen, 1)
            val_loss, val_accuracy = estimate_val()
            row = {
                "epoch": epoch,
                "train_loss": train_loss,
                "val_loss": val_loss,
                ("val_rmse" if regression else "val_accuracy"): val_accuracy,
                "lr": optimizer.param_groups[0]["lr"],
                "seconds": time.perf_counter() - epoch_start,
            }
            history.append(row)
            advance(
                f"epoch {epoch}/{cfg.epochs}  train loss {train_loss:.4f}  "
                f"val loss {val_loss:.4f}  val {'rmse' if regression else 'acc'} "
                f"{val_accuracy:.3f}"
            )

            # early stopping on validation loss; NaN never counts as progress
            if val_loss < best_loss - MIN_DELTA or best_epoch == 0:
                best_loss, best_epoch, stale = val_loss, epoch, 0
                best_state = _copy_state(raw_model)
            else:
                stale += 1
            finish = bool(cfg.early_stopping and stale >= cfg.early_stopping)
            if on_epoch is not None and on_epoch(dict(row)):
                stopped = finish = True
            checkpoint(epoch, finish or epoch == cfg.epochs)
            if finish:
                break

    raw_model.load_state_dict(best_state)
    trained = TrainedModel(
        preprocessor,
        raw_model,
        classes,
        target=target,
        task="regression" if regression else "classification",
        target_scale=scale,
        model_config=model_config.model_dump(),
        # a fine-tuned model's text is not a column of the arrays: no explainer baseline
        background=None if finetune else _background(x_num, x_cat, seed=cfg.seed),
    )
    return TrainResult(
        model=trained,
        history=history,
        best_epoch=best_epoch,
        seconds=time.perf_counter() - started,
        device=str(device),
        precision=precision,
        resumed_from=first_epoch - 1,
        stopped=stopped,
        world_size=dist.world_size,
        media_rejected=dict(x_media.rejected + v_media.rejected) if x_media and v_media else {},
    )


def _load_resume(path: Path | None, fingerprint: str) -> dict[str, Any] | None:
    """The checkpoint to continue, or None to start fresh (none there yet)."""
    if path is None or not path.is_file():
        return None
    state = load_checkpoint(path)
    if fingerprint and state.get("fingerprint") != fingerprint:
        raise UsageError(
            f"checkpoint {path} was written for other training data",
            hint="train without --resume to start over",
        )
    return state


def _background(
    x_num: torch.Tensor, x_cat: torch.Tensor, *, seed: int, size: int = BACKGROUND_ROWS
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded sample of transformed training rows: the explainers' reference distribution."""
    n = x_num.shape[0]
    pick = np.random.default_rng(seed).choice(n, size=min(size, n), replace=False)
    pick.sort()
    index = torch.from_numpy(pick).to(x_num.device)
    return x_num[index].float().cpu().numpy(), x_cat[index].cpu().numpy()


# -- setup helpers ----------------------------------------------------------------------------


def resolve_device(requested: str) -> torch.device:
    """``auto`` → cuda, then mps, then cpu; an explicit device must exist."""
    has_mps = hasattr(torch.backends, "mps") and torch.backends.mps.is_available()
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if has_mps else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise UsageError(
            "device 'cuda' was requested but CUDA is not available",
            hint="use --device auto or cpu, or install a CUDA build of torch",
        )
    if requested == "mps" and not has_mps:
        raise UsageError(
            "device 'mps' was requested but MPS is not available",
            hint="use --device auto or cpu",
        )
    if requested not in ("cpu", "cuda", "mps"):
        raise UsageError(f"unknown device {requested!r}", hint="use auto, cpu, cuda or mps")
    return torch.device(requested)


def resolve_precision(requested: str, device: torch.device) -> str:
    """``auto`` → bf16 on CUDA that supports it, fp16 on older CUDA, fp32 elsewhere."""
    cuda = device.type == "cuda"
    bf16_ok = (cuda and torch.cuda.is_bf16_supported()) or device.type == "cpu"
    if requested == "auto":
        if cuda:
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "fp32"
    if requested == "bf16" and not bf16_ok:
        raise UsageError(
            f"precision bf16 is not supported on {device}", hint="use --precision auto or fp32"
        )
    if requested == "fp16" and not cuda:
        raise UsageError(
            f"precision fp16 needs CUDA, the device is {device}",
            hint="use --precision fp32 (or bf16 on CPU)",
        )
    if requested not in ("fp32", "bf16", "fp16"):
        raise UsageError(f"unknown precision {requested!r}", hint="use auto, fp32, bf16 or fp16")
    return requested


def _target_scale(train: pl.DataFrame, target: str) -> tuple[float, float]:
    """Mean and std of a regression target (std 0 → 1): the network learns (y - mean) / std."""
    values = train.get_column(target).cast(pl.Float64).to_numpy()
    std = float(np.std(values))
    return float(np.mean(values)), (std if std > 0 else 1.0)


def _check_inputs(
    train: pl.DataFrame,
    val: pl.DataFrame,
    features: FeatureColumns,
    target: str,
    *,
    regression: bool = False,
) -> list[str]:
    """Validate the frames and return the classes: sorted unique train labels, as str."""
    if not features.all:
        raise UsageError("no feature columns", hint="declare at least one numeric or categorical")
    if target in features.all:
        raise UsageError(f"the target {target!r} is also a feature column", hint="remove it")
    for name, frame in (("train", train), ("validation", val)):
        if frame.height == 0:
            raise UsageError(f"the {name} set is empty", hint="provide more rows")
        if target not in frame.columns:
            raise DataError(
                f"the {name} set has no target column {target!r}",
                where=target,
                hint=f"columns are: {', '.join(frame.columns)}",
            )
        nulls = frame.get_column(target).null_count()
        if nulls:
            raise DataError(
                f"the {name} set has {nulls} rows without a {target!r} label",
                where=target,
                hint="drop unlabeled rows before training",
            )
        if regression and frame.get_column(target).cast(pl.Float64, strict=False).null_count():
            raise DataError(
                f"the {name} set's regression target {target!r} holds non-numbers",
                where=target,
                hint="fix the values, or set data.task to binary or multiclass",
            )
    if regression:
        return []
    classes = sorted(train.get_column(target).cast(pl.String).unique().to_list())
    if len(classes) < 2:
        raise UsageError(
            f"the target {target!r} needs at least 2 classes in the training set, "
            f"got {len(classes)}: {classes}",
            hint="check the target column, or gather examples of the other classes",
        )
    return classes


def _tensors(
    preprocessor: Preprocessor,
    frame: pl.DataFrame,
    target: str,
    classes: list[str],
    device: torch.device,
    scale: tuple[float, float] = (0.0, 1.0),
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A frame → (numeric [n, d], categorical [n, c], labels [n]) on ``device``; with no
    ``classes`` (regression) the labels are the standardized target, float32."""
    numeric, categorical = preprocessor.transform(frame)
    if not classes:
        values = frame.get_column(target).cast(pl.Float64).to_numpy()
        standardized = ((values - scale[0]) / scale[1]).astype(np.float32)
        return (
            torch.from_numpy(numeric).to(device),
            torch.from_numpy(categorical).to(device),
            torch.from_numpy(standardized).to(device),  # [n] float32
        )
    labels = (
        frame.get_column(target)
        .cast(pl.String)
        .replace_strict(classes, range(len(classes)), default=-100, return_dtype=pl.Int64)
        .to_numpy(writable=True)
    )
    return (
        torch.from_numpy(numeric).to(device),  # [n, d] float32
        torch.from_numpy(categorical).to(device),  # [n, c] int64
        torch.from_numpy(labels).to(device),  # [n] int64
    )


def _weigh_classes(cfg: TrainConfig, y: torch.Tensor, n_classes: int) -> bool:
    """``train.class_weights``: on, off, or (auto) on when the classes are imbalanced."""
    return class_weights_for(cfg, y.cpu().numpy(), n_classes) is not None


def class_weights_for(cfg: TrainConfig, y: np.ndarray, n_classes: int) -> np.ndarray | None:
    """Per-class loss weights ``n / (k · count_c)`` when ``train.class_weights`` asks for them
    (``auto``: when the training classes are imbalanced), else None. Every model family uses
    this, so the imbalance default holds whichever ``model.kind`` is chosen."""
    from datawheel.evaluate.metrics import class_prior, is_imbalanced

    known = np.asarray(y)[np.asarray(y) >= 0].astype(np.int64)
    if cfg.class_weights == "auto":
        if not is_imbalanced(class_prior(known, n_classes).tolist()):
            return None
    elif not cfg.class_weights:
        return None
    counts = np.maximum(np.bincount(known, minlength=n_classes), 1).astype(float)
    return len(known) / (n_classes * counts)


def _inverse_frequency(y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Loss weights n / (k * count_c), so every class weighs the same in total."""
    counts = torch.bincount(y, minlength=n_classes).float().clamp(min=1.0)  # [k]
    return len(y) / (n_classes * counts)


def _scheduler(
    optimizer: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The learning-rate schedule, stepped once per optimizer step."""
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=[g["lr"] for g in optimizer.param_groups], total_steps=total_steps
        )
    return None


def _copy_state(model: nn.Module, *, cpu: bool = False) -> dict[str, torch.Tensor]:
    return {
        k: (v.detach().cpu().clone() if cpu else v.detach().clone())
        for k, v in model.state_dict().items()
    }


@contextmanager
def _progress_bar(enabled: bool, epochs: int, done: int = 0) -> Iterator[Any]:
    """Yield ``advance(description)``: one call per finished epoch, relabeling the bar.

    Advanced per epoch, not per step: rich's lock costs more than a small step.
    """
    if not enabled:
        yield lambda description: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("training", total=epochs, completed=done)

        def advance(description: str) -> None:
            bar.update(task, advance=1, description=description)

        yield advance
