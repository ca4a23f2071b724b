"""Run by the DDP test under torchrun: train the fusion network, rank 0 saves its weights."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datawheel.train.trainer import train_classifier
from train._media import FEATURES, MODEL, TRAIN, frame


def main(out: str) -> None:
    distributed = "RANK" in __import__("os").environ
    if distributed:
        dist.init_process_group("gloo")
    torch.set_num_threads(1)
    result = train_classifier(
        frame(64, seed=1), frame(32, seed=2), features=FEATURES, target="label",
        model_config=MODEL.model_copy(update={"dropout": 0.0}),
        train_config=TRAIN.model_copy(update={"epochs": 2, "batch_size": 16}), progress=False,
    )  # fmt: skip
    if not distributed or dist.get_rank() == 0:
        torch.save({"state": result.model.network.state_dict(), "world": result.world_size}, out)
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
