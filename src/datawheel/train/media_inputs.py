"""Image and audio column values → the fixed-shape arrays the fusion network reads.

Decoding is ``datawheel.data.media.decode``'s (bytes, base64, a data: URI, or a path); this module
only fits what comes out to one shape: an image is letterboxed into ``image_size`` ×
``image_size`` RGB (aspect ratio kept, padded with black), a clip is cut or zero-padded to
``audio_samples`` at 16 kHz. A missing or undecodable value is marked absent, and the network
uses its learned missing embedding for it — unless ``strict`` (a served request), where it is
a ``MediaError`` naming the field.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch

__all__ = ["MediaArrays", "MediaAugmenter", "MediaSpec", "fit_audio", "fit_image"]


def fit_image(image: Any, size: int) -> np.ndarray:
    """A PIL image → uint8 ``[size, size, 3]``: scaled to fit, centred, black borders."""
    from PIL import Image

    rgb = image.convert("RGB") if image.mode != "RGB" else image
    scale = size / max(rgb.size)
    width = max(1, round(rgb.size[0] * scale))
    height = max(1, round(rgb.size[1] * scale))
    resized = rgb.resize((width, height), Image.Resampling.BILINEAR)
    if width == height == size:  # square: nothing to pad
        return np.asarray(resized, dtype=np.uint8)
    canvas = Image.new("RGB", (size, size))
    canvas.paste(resized, ((size - width) // 2, (size - height) // 2))
    return np.asarray(canvas, dtype=np.uint8)


def fit_audio(samples: np.ndarray, length: int) -> np.ndarray:
    """Float32 mono samples → exactly ``length`` of them: the start kept, zeros appended."""
    out = np.zeros(length, dtype=np.float32)
    take = min(length, len(samples))
    out[:take] = samples[:take]
    return out


@dataclass
class MediaArrays:
    """Decoded media for ``n`` rows: per image column ``[n, S, S, 3]`` uint8, per audio column
    ``[n, samples]`` float32, each with a ``present`` mask ``[n]``; ``rejected`` counts the
    values that did not decode, by reason (training keeps going without them)."""

    images: list[np.ndarray]
    image_present: list[np.ndarray]
    audio: list[np.ndarray]
    audio_present: list[np.ndarray]
    rejected: Counter[str] = field(default_factory=Counter)

    def take(self, rows: np.ndarray) -> MediaArrays:
        """The media of some rows (copies, safe to change)."""
        return MediaArrays(
            [a[rows] for a in self.images], [p[rows] for p in self.image_present],
            [a[rows] for a in self.audio], [p[rows] for p in self.audio_present],
        )  # fmt: skip

    def tensors(
        self, rows: torch.Tensor | slice | None = None, device: torch.device | None = None
    ) -> list[torch.Tensor]:
        """The FusionNet's media inputs for some rows: per image column pixels float
        ``[B, 3, S, S]`` in [0, 1] and present ``[B]``, then per audio column wave and present."""
        pick: Any = slice(None) if rows is None else rows
        if isinstance(pick, torch.Tensor):
            pick = pick.cpu().numpy()
        out: list[torch.Tensor] = []
        for pixels, present in zip(self.images, self.image_present, strict=True):
            batch = torch.from_numpy(np.ascontiguousarray(pixels[pick]))  # [B, S, S, 3] uint8
            out += [batch.permute(0, 3, 1, 2).float().div_(255.0), torch.from_numpy(present[pick])]
        for wave, present in zip(self.audio, self.audio_present, strict=True):
            out += [torch.from_numpy(np.ascontiguousarray(wave[pick])),
                    torch.from_numpy(present[pick])]  # fmt: skip
        return [t.to(device) for t in out] if device is not None else out


@dataclass(frozen=True)
class MediaSpec:
    """Which columns hold images and audio, and the shapes the network reads."""

    images: tuple[str, ...] = ()
    audio: tuple[str, ...] = ()
    image_size: int = 32  # pixels per side the image encoder sees
    audio_samples: int = 32_000  # samples per clip at 16 kHz (2 s)

    @property
    def columns(self) -> list[str]:
        return [*self.images, *self.audio]

    def __bool__(self) -> bool:
        return bool(self.images or self.audio)

    def to_dict(self) -> dict[str, Any]:
        return {"images": list(self.images), "audio": list(self.audio),
                "image_size": self.image_size, "audio_samples": self.audio_samples}  # fmt: skip

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any] | None) -> MediaSpec:
        if not spec:
            return cls()
        return cls(
            tuple(spec.get("images", ())), tuple(spec.get("audio", ())),
            int(spec.get("image_size", 32)), int(spec.get("audio_samples", 32_000)),
        )  # fmt: skip

    # -- decoding ------------------------------------------------------------------------------

    def load(
        self, column: str, value: Any, *, base_dir: Path | None, max_bytes: int | None = None
    ) -> Any:
        """One value decoded, not yet fitted: a PIL RGB image, or float32 samples at 16 kHz
        (at most as long as the network reads). MediaError when it does not decode."""
        from datawheel.data.media.decode import AUDIO_RATE, MAX_MEDIA_BYTES, load_audio, load_image

        data = _bytes(value, base_dir, max_bytes or MAX_MEDIA_BYTES)
        if column in self.images:
            return load_image(data)
        return load_audio(data, rate=AUDIO_RATE, max_seconds=self.audio_samples / AUDIO_RATE)

    def fit(self, column: str, value: Any) -> np.ndarray:
        """A decoded value (``load``'s, or an array already in shape) fitted to the network's
        input: uint8 ``[S, S, 3]`` for an image, float32 ``[audio_samples]`` for a clip."""
        if column in self.images:
            if isinstance(value, np.ndarray):
                if value.shape != (self.image_size, self.image_size, 3):
                    from datawheel.data.media.decode import MediaError

                    raise MediaError("unsupported", f"an array of shape {value.shape}")
                return value
            return fit_image(value, self.image_size)
        return fit_audio(np.asarray(value, dtype=np.float32).reshape(-1), self.audio_samples)

    def decode_one(
        self, column: str, value: Any, *, base_dir: Path | None = None, max_bytes: int | None = None
    ) -> np.ndarray:
        """One column's value (bytes, base64, a data: URI, a path under ``base_dir``; or a
        PIL image or an array already decoded) → the network's input for it."""
        decoded = isinstance(value, np.ndarray) or (
            hasattr(value, "mode") and hasattr(value, "size")
        )
        if not decoded:
            value = self.load(column, value, base_dir=base_dir, max_bytes=max_bytes)
        return self.fit(column, value)

    def arrays(
        self,
        rows: Sequence[Mapping[str, Any]] | pl.DataFrame,
        *,
        base_dir: Path | None = None,
        strict: bool = False,
    ) -> MediaArrays:
        """Decode every media column of ``rows``. A null value is absent; an undecodable one is
        absent and counted by reason, or (``strict``) a MediaError naming ``rows.i.column``."""
        from datawheel.data.media.decode import MediaError

        n = rows.height if isinstance(rows, pl.DataFrame) else len(rows)
        rejected: Counter[str] = Counter()
        out = MediaArrays([], [], [], [], rejected)
        for column in self.columns:
            values = _column(rows, column)
            is_image = column in self.images
            shape = (
                (n, self.image_size, self.image_size, 3) if is_image else (n, self.audio_samples)
            )
            data = np.zeros(shape, dtype=np.uint8 if is_image else np.float32)
            present = np.zeros(n, dtype=bool)
            first: tuple[int, MediaError] | None = None
            for i, value in enumerate(values):
                if value is None:
                    continue
                try:
                    data[i] = self.decode_one(column, value, base_dir=base_dir)
                    present[i] = True
                except MediaError as exc:
                    if strict:
                        raise MediaError(
                            exc.reason, exc.detail, where=f"rows.{i}.{column}"
                        ) from None
                    rejected[f"{column}:{exc.reason}"] += 1
                    first = first or (i, exc)
            if first is not None and not present.any():  # a wrong folder or column, not bad files
                row, error = first
                raise MediaError(
                    error.reason,
                    f"none of the {n - values.count(None)} values of {column!r} decodes; "
                    f"the first: {error.detail}",
                    where=f"rows.{row}.{column}",
                )
            if is_image:
                out.images.append(data)
                out.image_present.append(present)
            else:
                out.audio.append(data)
                out.audio_present.append(present)
        return out


def _bytes(value: Any, base_dir: Path | None, max_bytes: int) -> bytes:
    from datawheel.data.media.decode import media_bytes

    if isinstance(value, Path):  # a path object is always a file, wherever it points
        return media_bytes(str(value), value.parent, max_bytes=max_bytes)
    return media_bytes(value, base_dir, max_bytes=max_bytes)


def _column(rows: Sequence[Mapping[str, Any]] | pl.DataFrame, column: str) -> list[Any]:
    from datawheel.errors import DataError

    if isinstance(rows, pl.DataFrame):
        if column not in rows.columns:
            raise DataError(f"missing media column {column!r}", where=column)
        return rows.get_column(column).to_list()
    try:
        return [row.get(column) for row in rows]
    except AttributeError:
        raise DataError("each row must be a JSON object (a dict of field: value)") from None


class MediaAugmenter:
    """``clean.augment.images`` / ``.audio`` applied to a training batch's decoded media:
    ``augmenter(arrays, rows, epoch)`` → the rows' media, each image and clip changed by
    ``datawheel.data.media.augment`` with its own stream ``sample_rng(seed, epoch, row)`` — so a
    resumed run draws exactly what the uninterrupted one did. Absent items stay untouched."""

    def __init__(self, spec: MediaSpec, images: Any = None, audio: Any = None, *, seed: int = 0):
        from datawheel.data.media.augment import AudioAugment, ImageAugment

        self.spec = spec
        self.image = ImageAugment(images) if images is not None and images.enabled else None
        self.audio = AudioAugment(audio) if audio is not None and audio.enabled else None
        self.seed = seed

    def __bool__(self) -> bool:
        return self.image is not None or self.audio is not None

    def __call__(self, arrays: MediaArrays, rows: np.ndarray, epoch: int) -> MediaArrays:
        from PIL import Image

        from datawheel.data.media.augment import sample_rng

        batch = arrays.take(rows)
        for k, row in enumerate(rows.tolist()):
            rng = sample_rng(self.seed, epoch, int(row))
            if self.image is not None:
                for pixels, present in zip(batch.images, batch.image_present, strict=True):
                    if present[k]:
                        changed = self.image(Image.fromarray(pixels[k], "RGB"), rng)
                        pixels[k] = fit_image(changed, self.spec.image_size)
            if self.audio is not None:
                for wave, present in zip(batch.audio, batch.audio_present, strict=True):
                    if present[k]:
                        wave[k] = fit_audio(self.audio(wave[k], rng), self.spec.audio_samples)
        return batch
