"""Build the bundled ``digits`` example: handwritten digits, spoken digits and a table column.

Output: ``src/datawheel/examples/digits/data/`` — ``orders.csv`` (one row per sample) and
``voice/*.flac`` (the spoken clips the rows point at). Run it by hand when the example should
change; tests and ``datawheel init --example digits`` only read what it wrote.

Provenance and licences:

- Images: scikit-learn's ``load_digits`` (the UCI "Optical Recognition of Handwritten Digits"
  test set, 1,797 8×8 images, CC BY 4.0; shipped inside scikit-learn, BSD-3-Clause), each
  written as an 8×8 grayscale PNG and stored in the CSV as base64 text.
- Speech: synthesized here with Debian's ``espeak-ng`` (GPL-3.0-or-later program; its output is
  not covered by its licence): the digits 0–9 in English (four accents) and in Mandarin
  Chinese, each at three speeds and two pitches — 240 clips, silence trimmed, resampled to
  16 kHz, stored as 16-bit FLAC. Needs ``apt-get install espeak-ng``.

The task is built so that the three inputs carry complementary signal: ``target = "high"``
when at least two of three facts hold — the handwritten digit is 5 or more, the spoken digit is
5 or more, ``bonus`` (an integer −3…3, never 0, in the table) is positive — else ``"low"``.
Knowing one input, or any two, predicts it at most 75 % of the time; all three, always. So a
model must fuse all three to do well. 4 % of the rows have no photo and 4 % no clip (the
missing embedding's job), and one row's clip path is wrong on purpose (the data stage lists
it). Everything is seeded: the output is the same for the same scikit-learn and espeak-ng
versions.

Usage::

    python scripts/build_digits_example.py [--out DIR]
"""

from __future__ import annotations

import argparse
import base64
import io
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
import soundfile
import soxr
from PIL import Image
from sklearn.datasets import load_digits

SEED = 0
RATE = 16_000
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "src" / "datawheel" / "examples" / "digits" / "data"
ENGLISH = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
CHINESE = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"]
ENGLISH_VOICES = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp"]
SPEEDS = [130, 170, 210]  # words per minute
PITCHES = [35, 65]  # espeak's 0-99 pitch scale
MISSING_SHARE = 0.04


def speak(text: str, voice: str, speed: int, pitch: int, workdir: Path) -> np.ndarray:
    """espeak-ng's clip of ``text``, mono float32 at 16 kHz, leading/trailing silence cut."""
    wav = workdir / "clip.wav"
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), text],
        check=True,
    )
    samples, rate = soundfile.read(wav, dtype="float32", always_2d=True)
    mono = samples.mean(axis=1)
    loud = np.flatnonzero(np.abs(mono) > 0.02)
    mono = mono[max(0, loud[0] - 400) : loud[-1] + 400] if loud.size else mono
    return np.asarray(soxr.resample(mono, rate, RATE), dtype=np.float32)


def build_clips(voice_dir: Path) -> dict[int, list[str]]:
    """Write the 240 clips; return digit → file names (relative to the data folder)."""
    voice_dir.mkdir(parents=True, exist_ok=True)
    clips: dict[int, list[str]] = {d: [] for d in range(10)}
    with tempfile.TemporaryDirectory() as tmp:
        for digit in range(10):
            takes = [(ENGLISH[digit], v, "en") for v in ENGLISH_VOICES]
            takes += [(CHINESE[digit], "cmn", "zh")] * 4  # as many Chinese takes as English
            for t, (text, voice, lang) in enumerate(takes):
                for speed in SPEEDS:
                    pitch = PITCHES[(t + speed) % 2]
                    name = f"{digit}-{lang}-{t}-{speed}.flac"
                    wave = speak(text, voice, speed, pitch + 8 * (t % 4), Path(tmp))
                    soundfile.write(voice_dir / name, wave, RATE, format="FLAC", subtype="PCM_16")
                    clips[digit].append(f"voice/{name}")
    return clips


def png_base64(pixels: np.ndarray) -> str:
    """An 8×8 digit (0–16) as a grayscale PNG, ink dark on white like a scanned form."""
    gray = (255 - pixels * 255 / 16).round().astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(gray, "L").save(out, "PNG", optimize=True)
    return base64.b64encode(out.getvalue()).decode("ascii")


def build(out: Path) -> pl.DataFrame:
    rng = np.random.default_rng(SEED)
    if (out / "voice").exists():
        shutil.rmtree(out / "voice")
    clips = build_clips(out / "voice")
    digits = load_digits()
    n = len(digits.target)
    spoken = rng.integers(0, 10, n)
    bonus = rng.choice([-3, -2, -1, 1, 2, 3], n)
    written = digits.target.astype(int)
    votes = (written >= 5).astype(int) + (spoken >= 5) + (bonus > 0)
    photos: list[str | None] = [png_base64(img) for img in digits.images]
    voices: list[str | None] = [str(rng.choice(clips[int(d)])) for d in spoken]
    for column in (photos, voices):
        for i in np.flatnonzero(rng.random(n) < MISSING_SHARE):
            column[i] = None
    voices[int(np.flatnonzero([v is not None for v in voices])[7])] = "voice/missing-take.flac"
    frame = pl.DataFrame({
        "order_id": [f"o{i:04d}" for i in range(n)],
        "photo": photos,
        "voice": voices,
        "bonus": bonus,
        "channel": rng.choice(["web", "phone", "store"], n).tolist(),  # carries no signal
        "target": np.where(votes >= 2, "high", "low").tolist(),
    })  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    frame.write_csv(out / "orders.csv")
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    frame = build(args.out)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"{frame.height} rows, {size / 1e6:.2f} MB in {args.out}")


if __name__ == "__main__":
    main()
