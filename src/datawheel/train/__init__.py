"""Training: fitted tabular preprocessing, the MLP, its trainer, and the servable bundle."""

from datawheel.train.bundle import TrainedModel
from datawheel.train.features import FeatureColumns, Preprocessor
from datawheel.train.finetune import FinetunedTextMLP
from datawheel.train.model import TabularMLP, embedding_dim
from datawheel.train.trainer import (
    TrainResult,
    resolve_device,
    resolve_precision,
    train_classifier,
)

__all__ = [
    "FeatureColumns",
    "FinetunedTextMLP",
    "Preprocessor",
    "TabularMLP",
    "TrainResult",
    "TrainedModel",
    "embedding_dim",
    "resolve_device",
    "resolve_precision",
    "train_classifier",
]
