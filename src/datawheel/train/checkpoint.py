"""Training checkpoints: one self-describing dict per run, written atomically every epoch."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from datawheel.atomic import AtomicFile
from datawheel.errors import DataError

__all__ = [
    "CHECKPOINT_FORMAT",
    "checkpoint_key",
    "load_checkpoint",
    "restore_rng",
    "rng_state",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = "datawheel.checkpoint"
CHECKPOINT_VERSION = 1


def checkpoint_key(fingerprints: list[str], model_config: Any, train_config: Any) -> str:
    """A stable key: the same data and settings find the same checkpoint folder."""
    payload = json.dumps(
        {"data": fingerprints, "model": model_config, "train": train_config},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def rng_state(generator: torch.Generator) -> dict[str, Any]:
    """Every random stream a resumed run must continue: python, numpy, torch (+CUDA), data order.

    Stored as tensors and plain containers so ``torch.load(weights_only=True)`` reads it.
    """
    np_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": list(random.getstate()[1]),
        "python_gauss": random.getstate()[2],
        "numpy_key": torch.from_numpy(np.asarray(np_state["state"]["key"], dtype=np.int64)),
        "numpy_pos": int(np_state["state"]["pos"]),
        "numpy_has_gauss": int(np_state["has_gauss"]),
        "numpy_gauss": float(np_state["gauss"]),
        "torch": torch.get_rng_state(),
        "data_order": generator.get_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any], generator: torch.Generator) -> None:
    random.setstate((3, tuple(state["python"]), state["python_gauss"]))
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {
                "key": state["numpy_key"].numpy().astype(np.uint32),
                "pos": state["numpy_pos"],
            },
            "has_gauss": state["numpy_has_gauss"],
            "gauss": state["numpy_gauss"],
        }
    )
    torch.set_rng_state(state["torch"])
    generator.set_state(state["data_order"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write to a temp file in the same folder, then rename: a reader never sees half a file."""
    with AtomicFile(path) as out:
        torch.save({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **state}, out.file)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint on the CPU; only tensors and plain containers are unpickled."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a corrupt file
        raise DataError(f"cannot read checkpoint {path}: {exc}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise DataError(f"{path} is not a datawheel checkpoint", hint="delete it and retrain")
    return state
