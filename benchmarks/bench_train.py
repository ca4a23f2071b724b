"""Training throughput: datawheel's trainer vs the plain PyTorch loop, and DDP scaling on CPU.

Same model (TabularMLP, hidden [128, 64]), same data (the bundled income example; features
prepared once), same epochs, batch 256, AdamW, one thread on every side. Rows/s counts training
rows over the epochs' wall time (datawheel: its per-epoch timings, which also include its
validation pass; plain: the loop alone). DDP: the datawheel trainer under torchrun with 1 and 2
CPU processes (gloo), seconds per epoch.

    OMP_NUM_THREADS=1 python benchmarks/bench_train.py [--epochs 5] [--repeat 3] [--no-ddp]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import polars as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from datawheel.config import ModelConfig, TrainConfig
from datawheel.io import read_table
from datawheel.train import FeatureColumns, Preprocessor, TabularMLP, train_classifier

DATA = Path(__file__).resolve().parents[1] / "src/datawheel/examples/income/data/adult.csv.gz"
NUMERIC = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
CATEGORICAL = ["workclass", "education", "marital_status", "occupation", "relationship", "race",
               "sex", "native_country"]  # fmt: skip
FEATURES = FeatureColumns(numeric=NUMERIC, categorical=CATEGORICAL)
HIDDEN, BATCH, LR = [128, 64], 256, 1e-3


def frames() -> tuple[pl.DataFrame, pl.DataFrame]:
    frame = read_table(DATA).select([*NUMERIC, *CATEGORICAL, "income"])
    cut = int(frame.height * 0.85)
    return frame[:cut], frame[cut:]


def datawheel_epoch_seconds(train: pl.DataFrame, val: pl.DataFrame, epochs: int, **cfg) -> float:
    result = train_classifier(
        train,
        val,
        features=FEATURES,
        target="income",
        model_config=ModelConfig(hidden=HIDDEN, dropout=0.1),
        train_config=TrainConfig(
            epochs=epochs, batch_size=BATCH, lr=LR, early_stopping=0, device="cpu", **cfg
        ),
        progress=False,
    )
    return statistics.median(h["seconds"] for h in result.history)


def plain_epoch_seconds(train: pl.DataFrame, epochs: int, *, loader: bool) -> float:
    """The spec's loop: model.to(device); per batch forward, loss, zero_grad, backward, step."""
    pre = Preprocessor(FEATURES).fit(train)
    numeric, categorical = pre.transform(train)
    labels = (train.get_column("income") == ">50K").cast(pl.Int64).to_numpy()
    x_num, x_cat = torch.from_numpy(numeric), torch.from_numpy(categorical)
    y = torch.from_numpy(labels)
    torch.manual_seed(0)
    device = torch.device("cpu")
    model = TabularMLP(pre.n_numeric_features, pre.cardinalities, 2, hidden=HIDDEN, dropout=0.1)
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    data = DataLoader(TensorDataset(x_num, x_cat, y), batch_size=BATCH, shuffle=True)
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        if loader:
            batches = iter(data)
        else:
            order = torch.randperm(len(y))
            batches = (
                (x_num[i], x_cat[i], y[i])
                for i in (order[s : s + BATCH] for s in range(0, len(y), BATCH))
            )
        for xb_num, xb_cat, yb in batches:
            loss = loss_fn(model(xb_num.to(device), xb_cat.to(device)), yb.to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def ddp_worker(epochs: int) -> None:
    """Run under torchrun: every rank trains; rank 0 prints the median epoch seconds."""
    from datawheel.train.distributed import dist_info, init_distributed, shutdown_distributed

    init_distributed()
    train, val = frames()
    seconds = datawheel_epoch_seconds(train, val, epochs)
    if dist_info().is_main:
        print(json.dumps({"epoch_seconds": seconds}))
    shutdown_distributed()


def ddp_seconds(procs: int, epochs: int) -> float:
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun), "--standalone", "--nproc-per-node", str(procs), __file__,
           "--ddp-worker", "--epochs", str(epochs)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("{"))
    return json.loads(line)["epoch_seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3, help="best of N per variant")
    parser.add_argument("--no-ddp", action="store_true")
    parser.add_argument("--ddp-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ddp_worker:
        ddp_worker(args.epochs)
        return
    torch.set_num_threads(1)
    train, val = frames()
    n = train.height
    variants = {
        "plain loop, DataLoader(TensorDataset)": lambda: plain_epoch_seconds(
            train, args.epochs, loader=True
        ),
        "plain loop, index slicing": lambda: plain_epoch_seconds(train, args.epochs, loader=False),
        "datawheel (cosine, clip 1.0, val pass)": lambda: datawheel_epoch_seconds(
            train, val, args.epochs
        ),
        "datawheel (no schedule, no clip)": lambda: datawheel_epoch_seconds(
            train, val, args.epochs, schedule="none", grad_clip=0.0
        ),
    }
    # round-robin repeats, best of each: a shared machine's load drifts between variants alike
    timings: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeat):
        for name, run in variants.items():
            timings[name].append(run())
    best = {name: min(values) for name, values in timings.items()}
    print(
        f"{n} training rows, batch {BATCH}, {args.epochs} epochs, 1 thread, best of {args.repeat}"
    )
    print(f"{'variant':42s} {'s/epoch':>9s} {'rows/s':>10s}")
    for name, seconds in best.items():
        print(f"{name:42s} {seconds:9.4f} {n / seconds:10.0f}")
    reference = best["plain loop, DataLoader(TensorDataset)"]
    for name in [k for k in best if k.startswith("datawheel")]:
        print(f"ratio {name} / plain DataLoader loop: {reference / best[name]:.2f}")
    fastest_plain = best["plain loop, index slicing"]
    print(f"ratio datawheel (defaults) / plain index loop: "
          f"{fastest_plain / best['datawheel (cosine, clip 1.0, val pass)']:.2f}")  # fmt: skip
    if not args.no_ddp:
        one, two = ddp_seconds(1, args.epochs), ddp_seconds(2, args.epochs)
        print(f"DDP gloo CPU: 1 proc {one:.4f} s/epoch, 2 procs {two:.4f} s/epoch, "
              f"speed-up {one / two:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
