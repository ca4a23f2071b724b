"""Differentially private training (DP-SGD with Opacus): weights that do not memorize anyone.

``train.privacy: {epsilon, delta, max_grad_norm}`` trains the tabular MLP with per-example
gradient clipping and Gaussian noise calibrated by Opacus so that the whole run spends at most
(ε, δ); batches are Poisson-sampled, as the accountant assumes. The ε actually spent (Opacus's
RDP accountant) is recorded with the run and the model version.

What is protected is the training split. The run trains for ``train.epochs`` epochs exactly:
early stopping would pick an epoch by the validation split, which the guarantee does not cover.
Not available with DDP or a fine-tuned text encoder (Opacus's per-sample gradients of a
transformer are out of this build's memory budget).
"""

from __future__ import annotations

import math
import random
import time
import warnings
from typing import Any

import numpy as np
import polars as pl
import torch
import torch.nn.functional as F
from torch import nn

from datawheel.config import CleanConfig, ModelConfig, TrainConfig
from datawheel.errors import MissingDependencyError, UsageError
from datawheel.train.bundle import TrainedModel
from datawheel.train.distributed import dist_info
from datawheel.train.features import FeatureColumns, Preprocessor
from datawheel.train.model import TabularMLP

__all__ = ["train_private"]


def _opacus() -> Any:
    try:
        import opacus
    except ImportError:
        raise MissingDependencyError("opacus", "privacy", purpose="DP training") from None
    return opacus


def train_private(
    train: pl.DataFrame,
    val: pl.DataFrame,
    *,
    features: FeatureColumns,
    target: str,
    model_config: ModelConfig,
    train_config: TrainConfig,
    classes: list[str],
    tensors: Any,
    background: Any,
    progress_bar: Any,
    clean_config: CleanConfig | None = None,
) -> tuple[TrainedModel, list[dict[str, float]], dict[str, Any], float]:
    """Train with DP-SGD; (model, history, privacy record, seconds). Called by the trainer.

    ``clean_config`` puts the project's fills and fences in the preprocessing, as the
    non-private trainer does, so every serving path transforms rows alike. Like the means and
    vocabularies, they are statistics of the training split outside the DP guarantee."""
    started = time.perf_counter()
    privacy = train_config.privacy
    assert privacy is not None
    if dist_info().active:
        raise UsageError(
            "train.privacy does not run under torchrun (DDP)",
            hint="train with one process, or remove train.privacy",
        )
    if model_config.finetune:
        raise UsageError(
            "train.privacy does not support a fine-tuned text encoder",
            hint="use model.finetune: false (hashed or frozen MiniLM text features)",
        )
    opacus = _opacus()
    cfg = train_config
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if clean_config is not None:
        preprocessor = Preprocessor.from_config(features, clean_config, model_config).fit(train)
    else:
        preprocessor = Preprocessor(
            features, text_encoder=model_config.text_encoder, text_buckets=model_config.text_buckets
        ).fit(train)
    device = torch.device("cpu")
    x_num, x_cat, y = tensors(preprocessor, train, target, classes, device)
    v_num, v_cat, v_y = tensors(preprocessor, val, target, classes, device)
    model = TabularMLP(
        preprocessor.n_numeric_features,
        preprocessor.cardinalities,
        len(classes),
        hidden=model_config.hidden,
        dropout=model_config.dropout,
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    dataset = torch.utils.data.TensorDataset(x_num, x_cat, y)
    generator = torch.Generator().manual_seed(cfg.seed)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=min(cfg.batch_size, len(dataset)), generator=generator
    )
    with warnings.catch_warnings():  # Opacus warns about its secure-RNG mode; docs state ours
        warnings.simplefilter("ignore")
        engine = opacus.PrivacyEngine(accountant="rdp")
        model, optimizer, loader = engine.make_private_with_epsilon(
            module=model,
            optimizer=optimizer,
            data_loader=loader,
            target_epsilon=privacy.epsilon,
            target_delta=privacy.delta,
            epochs=cfg.epochs,
            max_grad_norm=privacy.max_grad_norm,
        )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    history: list[dict[str, float]] = []
    with progress_bar(cfg.epochs) as advance, warnings.catch_warnings():
        # Opacus's hooks fire on inputs that need no gradient (embedding indices): harmless
        warnings.filterwarnings("ignore", message="Full backward hook", category=UserWarning)
        for epoch in range(1, cfg.epochs + 1):
            epoch_start = time.perf_counter()
            model.train()
            loss_sum, seen = 0.0, 0
            for num, cat, labels in loader:
                if len(labels) == 0:  # Poisson sampling can draw an empty batch
                    continue
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(model(num, cat), labels)
                loss.backward()
                optimizer.step()
                loss_sum += loss.item() * len(labels)
                seen += len(labels)
            val_loss, val_accuracy = _validate(model, v_num, v_cat, v_y)
            spent = engine.get_epsilon(privacy.delta)
            history.append(
                {
                    "epoch": epoch,
                    "train_loss": loss_sum / max(seen, 1),
                    "val_loss": val_loss,
                    "val_accuracy": val_accuracy,
                    "epsilon": spent,
                    "seconds": time.perf_counter() - epoch_start,
                }
            )
            advance(f"epoch {epoch}/{cfg.epochs}  ε {spent:.2f}  val acc {val_accuracy:.3f}")
    raw = model._module if hasattr(model, "_module") else model
    plain = TabularMLP(
        preprocessor.n_numeric_features,
        preprocessor.cardinalities,
        len(classes),
        hidden=model_config.hidden,
        dropout=model_config.dropout,
    )
    plain.load_state_dict(raw.state_dict())
    plain.eval()
    record = {
        "epsilon": float(engine.get_epsilon(privacy.delta)),
        "target_epsilon": privacy.epsilon,
        "delta": privacy.delta,
        "max_grad_norm": privacy.max_grad_norm,
        "noise_multiplier": float(optimizer.noise_multiplier),
        "sample_rate": float(1 / len(loader)),
        "epochs": cfg.epochs,
        "accountant": "rdp (Opacus)",
        "protected": "the training split",
    }
    trained = TrainedModel(
        preprocessor,
        plain,
        classes,
        target=target,
        model_config=model_config.model_dump(),
        background=background(x_num, x_cat, seed=cfg.seed),
    )
    return trained, history, record, time.perf_counter() - started


@torch.no_grad()
def _validate(
    model: nn.Module, num: torch.Tensor, cat: torch.Tensor, y: torch.Tensor
) -> tuple[float, float]:
    model.eval()
    logits = model(num, cat).float()
    known = int((y >= 0).sum())
    loss = F.cross_entropy(logits, y, ignore_index=-100, reduction="sum").item()
    accuracy = (logits.argmax(dim=1) == y).float().mean().item() if len(y) else math.nan
    return (loss / known if known else math.nan), accuracy
