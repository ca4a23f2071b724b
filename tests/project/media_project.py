"""A small project whose rows carry a photo and a voice clip, with every kind of bad file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import yaml
from PIL import Image

from data.media.samples import clip, encode, picture, tone
from datawheel.io import write_table
from datawheel.secret import KEY_FILE, generate_key_file

ROWS = 40
# row -> what is special about it (all others: a distinct photo and clip of their own)
TRUNCATED, MISSING, COPY_OF_0, RESIZED_OF_1, LONG_CLIP, NO_PHOTO, CORRUPT_CLIP = (
    5, 6, 7, 8, 9, 10, 11,
)  # fmt: skip


def build(directory: Path, **extra: object) -> Path:
    """Files under photos/ and voice/, data.csv pointing at them, a key and the project file.
    ``extra`` is merged into the project file (e.g. privacy=...)."""
    (directory / "photos").mkdir(parents=True)
    (directory / "voice").mkdir()
    generate_key_file(directory / KEY_FILE)
    rng = np.random.default_rng(0)
    photos, clips = [], []
    for i in range(ROWS):
        name = f"photos/p{i}.jpg"
        image = picture(100 + i, (64, 48))
        if i == COPY_OF_0:
            image = picture(100, (64, 48))
        if i == RESIZED_OF_1:
            image = picture(101, (64, 48)).resize((48, 36), Image.Resampling.LANCZOS)
        data = encode(image, "JPEG", metadata=True)
        if i == TRUNCATED:
            data = data[: len(data) // 2]
        if i != MISSING:
            (directory / name).write_bytes(data)
        photos.append(None if i == NO_PHOTO else name)
        seconds = 45.0 if i == LONG_CLIP else 0.5 + 0.02 * i
        voice = clip(tone(seconds, 8_000, freq=200 + 10 * i), 8_000, "WAV")
        if i == CORRUPT_CLIP:
            voice = b"RIFF" + (36).to_bytes(4, "little") + b"WAVE" + bytes(36)
        (directory / f"voice/v{i}.wav").write_bytes(voice)
        clips.append(f"voice/v{i}.wav")
    frame = pl.DataFrame(
        {
            "person": [f"P{i}" for i in range(ROWS)],
            "photo": photos,
            "voice": clips,
            "x": rng.normal(size=ROWS),
            "y": ["yes" if i % 3 else "no" for i in range(ROWS)],
        }
    )
    write_table(frame, directory / "data.csv")
    config = {
        "name": "media",
        "data": {"source": "data.csv", "target": "y", "id": "person",
                 "images": ["photo"], "audio": ["voice"]},
        "train": {"epochs": 2, "seed": 0},
        **extra,
    }  # fmt: skip
    (directory / "datawheel.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return directory / "datawheel.yaml"
