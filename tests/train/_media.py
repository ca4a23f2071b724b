"""Tiny image + audio + table data made here, for the fusion network's tests.

Each row has a 12×12 PNG with one bright quadrant (``quadrant`` 0–3), a 0.25 s WAV tone at a
low or a high pitch (``pitch`` 0/1, recorded at 8 kHz so decoding resamples it) and a number
``x``. The label is ``"yes"`` when quadrant is in the top row (0, 1) and the tone is high, or
``x`` > 1 — so the image and the clip both matter, and the table can override them.
"""

from __future__ import annotations

import io

import numpy as np
import polars as pl
import soundfile
from PIL import Image

from datawheel.config import ModelConfig, TrainConfig
from datawheel.train import FeatureColumns

FEATURES = FeatureColumns(numeric=["x"], images=["photo"], audio=["voice"])
MODEL = ModelConfig(kind="mlp", image_size=12, audio_seconds=0.25, media_dim=8, hidden=[16])
TRAIN = TrainConfig(epochs=6, batch_size=16, lr=0.01, device="cpu", early_stopping=0, seed=0)


def png(quadrant: int, side: int = 12, fmt: str = "PNG") -> bytes:
    pixels = np.full((side, side, 3), 20, np.uint8)
    half = side // 2
    r, c = divmod(quadrant, 2)
    pixels[r * half : (r + 1) * half, c * half : (c + 1) * half] = 235
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, fmt)
    return out.getvalue()


def wav(pitch: int, seconds: float = 0.25, rate: int = 8_000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    wave = (0.5 * np.sin(2 * np.pi * (300 + 1500 * pitch) * t)).astype(np.float32)
    out = io.BytesIO()
    soundfile.write(out, wave, rate, format="WAV")
    return out.getvalue()


def frame(n: int, *, seed: int = 0, missing: float = 0.0) -> pl.DataFrame:
    """``n`` rows; a share ``missing`` of the photos is null."""
    rng = np.random.default_rng(seed)
    quadrant = rng.integers(0, 4, n)
    pitch = rng.integers(0, 2, n)
    x = rng.normal(size=n)
    label = np.where(((quadrant < 2) & (pitch == 1)) | (x > 1.0), "yes", "no")
    drop = rng.random(n) < missing
    return pl.DataFrame(
        {
            "photo": [None if d else png(int(q)) for q, d in zip(quadrant, drop, strict=True)],
            "voice": [wav(int(p)) for p in pitch],
            "x": x,
            "label": label.tolist(),
        },
        schema={"photo": pl.Binary, "voice": pl.Binary, "x": pl.Float64, "label": pl.String},
    )
