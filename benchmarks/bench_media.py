"""Images and speech: the fusion network against single modalities and scikit-learn, the image
encoder's input path against a plain PIL + torch DataLoader loop, and serving cost per modality.

Data: the bundled ``digits`` example (1,797 rows: an 8×8 handwritten digit as PNG, a spoken
digit as FLAC, a ``bonus`` column; target = at least two of written ≥ 5, spoken ≥ 5, bonus > 0,
so one input alone or any two can reach 75 %, all three 100 %). One seeded split: train 60 %,
validation 20 % (early stopping), test 20 %. The example's own model:, train: and clean.augment
settings.

1. Accuracy on test: the fused network (image + audio + table) and the same network on one
   modality at a time; beside them scikit-learn's SVC (RBF, default C) on pixels, on MFCC
   statistics (13 cepstra of the same log-mel, mean and std over time), on both plus the table,
   and a logistic regression on the table. The peers train on train + validation.
2. Images/s into the image encoder, one thread each side, same trained weights: datawheel's
   path (``MediaSpec.arrays``: decode, check, letterbox, one batch tensor) against a torch
   ``Dataset`` + ``DataLoader(batch_size=256)`` that decodes with PIL and pads with
   ``ImageOps.pad`` — torchvision's wheels do not import with the CPU build of torch pinned here
   (their ``_C.so`` needs CUDA's libc10_cuda), so its ``decode_image`` + ``Resize`` loop cannot
   be the peer; this is what it does, in PIL. Both must give the same embeddings.
3. Serving cost per modality, in process: one request of one row decoded from base64 and
   predicted, by what it carries (table only, + image, + clip, all), median of 200; and rows/s
   for batches of 64.

    OMP_NUM_THREADS=1 python benchmarks/bench_media.py [--seed 0] [--epochs N]
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import statistics
import time
from importlib import resources
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import polars as pl
import torch

from datawheel.config import load_config
from datawheel.train import FeatureColumns
from datawheel.train.media_inputs import MediaSpec
from datawheel.train.trainer import train_classifier

torch.set_num_threads(1)
SIDES = {
    "fused (image + audio + table)": FeatureColumns(numeric=["bonus"], categorical=["channel"],
                                                    images=["photo"], audio=["voice"]),
    "image only": FeatureColumns(images=["photo"]),
    "audio only": FeatureColumns(audio=["voice"]),
    "table only": FeatureColumns(numeric=["bonus"], categorical=["channel"]),
}  # fmt: skip


def example() -> tuple[pl.DataFrame, Path, Any]:
    folder = Path(str(resources.files("datawheel") / "examples" / "digits"))
    config = load_config(folder / "datawheel.yaml")
    return pl.read_csv(folder / "data" / "orders.csv"), folder / "data", config


def split(frame: pl.DataFrame, seed: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    order = np.random.default_rng(seed).permutation(frame.height)
    a, b = int(0.6 * frame.height), int(0.8 * frame.height)
    return frame[order[:a]], frame[order[a:b]], frame[order[b:]]


def accuracies(frame: pl.DataFrame, data: Path, config: Any, seed: int, epochs: int | None) -> dict:
    train, val, test = split(frame, seed)
    truth = test.get_column("target").to_numpy()
    out: dict[str, float] = {}
    fused = None
    for name, features in SIDES.items():
        started = time.perf_counter()
        result = train_classifier(
            train, val, features=features, target="target", model_config=config.model,
            train_config=config.train.model_copy(update={
                "epochs": epochs or config.train.epochs, "seed": seed, "device": "cpu"}),
            clean_config=config.clean, media_dir=data, progress=False,
        )  # fmt: skip
        if features.media:
            predicted = result.model.predict(_resolved(test, data))
        else:
            predicted = result.model.predict(test)
        out[name] = float(np.mean(np.asarray(predicted) == truth))
        print(f"  {name:32s} {out[name]:.3f}   ({time.perf_counter() - started:.0f} s)")
        fused = fused or result.model
    return {"datawheel": out, "model": fused, "splits": (train, val, test)}


def _resolved(frame: pl.DataFrame, data: Path) -> pl.DataFrame:
    """The voice paths made absolute (a DataFrame's values are read from the current folder)."""
    absolute = pl.lit(str(data) + "/") + pl.col("voice")
    return frame.with_columns(
        pl.when(pl.col("voice").is_not_null()).then(absolute).otherwise(None).alias("voice")
    )


def sklearn_baselines(splits: tuple, data: Path, spec: MediaSpec) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    train, val, test = splits
    fit_rows = pl.concat([train, val])

    def features(rows: pl.DataFrame) -> dict[str, np.ndarray]:
        arrays = spec.arrays(rows, base_dir=data)
        pixels = arrays.images[0].mean(axis=3).reshape(rows.height, -1) / 255.0  # gray
        mfcc = _mfcc(arrays.audio[0])
        table = np.stack([rows.get_column("bonus").to_numpy().astype(float),
                          (rows.get_column("channel") == "web").to_numpy(),
                          (rows.get_column("channel") == "phone").to_numpy()], axis=1)  # fmt: skip
        image_ok = arrays.image_present[0][:, None].astype(float)
        audio_ok = arrays.audio_present[0][:, None].astype(float)
        return {"image": np.hstack([pixels, image_ok]), "audio": np.hstack([mfcc, audio_ok]),
                "table": table}  # fmt: skip

    x_fit, x_test = features(fit_rows), features(test)
    y_fit, y_test = fit_rows.get_column("target").to_numpy(), test.get_column("target").to_numpy()
    both = {k: np.hstack([v["image"], v["audio"], v["table"]]) for k, v in
            (("fit", x_fit), ("test", x_test))}  # fmt: skip
    runs = {
        "SVC on pixels": (x_fit["image"], x_test["image"], SVC()),
        "SVC on MFCCs": (x_fit["audio"], x_test["audio"], SVC()),
        "SVC on pixels + MFCCs + table": (both["fit"], both["test"], SVC()),
        "logistic regression on the table": (x_fit["table"], x_test["table"],
                                             LogisticRegression(max_iter=1000)),
    }  # fmt: skip
    out = {}
    for name, (a, b, model) in runs.items():
        pipe = make_pipeline(StandardScaler(), model).fit(a, y_fit)
        out[name] = float(np.mean(pipe.predict(b) == y_test))
        print(f"  {name:32s} {out[name]:.3f}")
    return out


def _mfcc(waves: np.ndarray) -> np.ndarray:
    from scipy.fft import dct

    from datawheel.train.media_net import LogMel

    with torch.no_grad():
        logmel = LogMel()(torch.from_numpy(waves)).numpy()  # [n, 40, frames]
    cepstra = dct(logmel, type=2, axis=1, norm="ortho")[:, :13]  # [n, 13, frames]
    return np.hstack([cepstra.mean(axis=2), cepstra.std(axis=2)])


class _PilDigits(torch.utils.data.Dataset):
    """The peer: base64 → PIL → RGB → ImageOps.pad → float tensor [3, S, S] in [0, 1]."""

    def __init__(self, values: list[str], side: int):
        self.values, self.side = values, side

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, i: int) -> torch.Tensor:
        from PIL import Image, ImageOps

        with Image.open(io.BytesIO(base64.b64decode(self.values[i]))) as image:
            rgb = image.convert("RGB")
        padded = ImageOps.pad(rgb, (self.side, self.side), Image.Resampling.BILINEAR, color=0)
        return torch.from_numpy(np.array(padded, dtype=np.uint8)).permute(2, 0, 1).float() / 255


def encoder_throughput(model: Any, frame: pl.DataFrame, repeats: int = 9) -> dict[str, float]:
    spec = model.preprocessor.media
    encoder = model.network.image_encoders[0].eval()
    values = [v for v in frame.get_column("photo").to_list() if v is not None]
    rows = pl.DataFrame({"photo": values, "voice": [None] * len(values)},
                        schema={"photo": pl.String, "voice": pl.String})  # fmt: skip
    image_only = MediaSpec(images=("photo",), image_size=spec.image_size)

    def ours() -> torch.Tensor:
        arrays = image_only.arrays(rows)
        pixels = arrays.tensors()[0]  # [n, 3, S, S]
        with torch.inference_mode():
            return torch.cat([encoder(pixels[i : i + 256]) for i in range(0, len(pixels), 256)])

    def peer() -> torch.Tensor:
        loader = torch.utils.data.DataLoader(_PilDigits(values, spec.image_size), batch_size=256)
        with torch.inference_mode():
            return torch.cat([encoder(batch) for batch in loader])

    # interleaved repeats, best of each; CPU seconds decide the ratio (both sides run on this
    # one thread, so CPU time is the work done, and it does not move with the machine's load)
    walls: dict[str, list[float]] = {"datawheel": [], "DataLoader": []}
    cpus: dict[str, list[float]] = {"datawheel": [], "DataLoader": []}
    outputs = {}
    for _ in range(repeats):
        for name, run in (("datawheel", ours), ("DataLoader", peer)):
            wall, cpu = time.perf_counter(), time.process_time()
            outputs[name] = run()
            cpus[name].append(time.process_time() - cpu)
            walls[name].append(time.perf_counter() - wall)
    best = {name: len(values) / min(t) for name, t in cpus.items()}
    best_wall = {name: len(values) / min(t) for name, t in walls.items()}
    diff = float((outputs["datawheel"] - outputs["DataLoader"]).abs().max())
    print(f"  datawheel {best['datawheel']:,.0f} images per CPU-second, DataLoader "
          f"{best['DataLoader']:,.0f}: {best['datawheel'] / best['DataLoader']:.2f}x "
          f"(wall: {best_wall['datawheel']:,.0f} vs {best_wall['DataLoader']:,.0f} images/s, "
          f"{best_wall['datawheel'] / best_wall['DataLoader']:.2f}x); max |embedding diff| "
          f"{diff:.2e} ({len(values)} images, best of {repeats})")  # fmt: skip
    return {
        **best,
        "ratio": best["datawheel"] / best["DataLoader"],
        "wall_ratio": best_wall["datawheel"] / best_wall["DataLoader"],
        "max_diff": diff,
    }


def serving_cost(model: Any, frame: pl.DataFrame, data: Path) -> None:
    from datawheel.serve.media_body import decode_media

    spec = model.preprocessor.media
    row = frame.filter(pl.col("photo").is_not_null() & pl.col("voice").is_not_null()).row(
        0, named=True
    )
    clip = base64.b64encode((data / row["voice"]).read_bytes()).decode()
    table = {"bonus": row["bonus"], "channel": row["channel"]}
    kinds = {
        "table only": {**table, "photo": None, "voice": None},
        "table + image": {**table, "photo": row["photo"], "voice": None},
        "table + clip": {**table, "photo": None, "voice": clip},
        "table + image + clip": {**table, "photo": row["photo"], "voice": clip},
    }
    print(f"  {'request row carries':24s} {'p50 ms/request':>15s} {'rows/s (64 a batch)':>20s}")
    for name, request in kinds.items():
        single = []
        for _ in range(200):
            started = time.perf_counter()
            decoded, _ = decode_media([dict(request)], spec, max_bytes=10 << 20)
            model.predict_proba(decoded)
            single.append(time.perf_counter() - started)
        started = time.perf_counter()
        for _ in range(5):
            decoded, _ = decode_media([dict(request) for _ in range(64)], spec, max_bytes=10 << 20)
            model.predict_proba(decoded)
        rate = 5 * 64 / (time.perf_counter() - started)
        print(f"  {name:24s} {statistics.median(single) * 1000:15.2f} {rate:20,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="default: the example's")
    args = parser.parse_args()
    frame, data, config = example()
    print(f"digits example: {frame.height} rows; accuracy on the test 20 %")
    trained = accuracies(frame, data, config, args.seed, args.epochs)
    spec = trained["model"].preprocessor.media
    print("scikit-learn on the same split (train + validation to fit):")
    sklearn_baselines(trained["splits"], data, spec)
    print("image encoder input path, trained weights, 1 thread:")
    encoder_throughput(trained["model"], frame)
    print("serving cost per modality, in process (decode + predict):")
    serving_cost(trained["model"], frame, data)


if __name__ == "__main__":
    main()
