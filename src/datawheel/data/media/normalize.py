"""One image or clip made fit to store: decoded, checked, stripped of metadata, re-encoded.

Re-encoding is what strips EXIF, XMP and IPTC (GPS position, device serial, owner name) and a
clip's tags: only pixels and samples survive. The output is deterministic — the same content
always gives the same bytes — so a content hash of it finds exact duplicates across formats.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from datawheel.data.media.decode import (
    AUDIO_RATE,
    MAX_AUDIO_SECONDS,
    MAX_PIXELS,
    MediaError,
    decode_audio,
    load_image,
    sniff_format,
)

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = [
    "StoredClip",
    "StoredImage",
    "encode_clip",
    "encode_image",
    "normalize_clip",
    "normalize_image",
    "trim_silence",
]

JPEG_QUALITY = 95  # lossy sources stay JPEG at this quality: no visible loss, a fifth of PNG
_SILENCE_FLOOR = 1e-4  # a clip whose loudest sample is below this (-80 dBFS) holds no sound
_FRAME_SECONDS, _HOP_SECONDS = 0.025, 0.010  # the energy frames silence is judged on


@dataclass(frozen=True)
class StoredImage:
    """An image as datawheel stores it: PNG (lossless sources) or JPEG (lossy), no metadata."""

    data: bytes
    width: int
    height: int
    source_format: str  # PNG | JPEG | WEBP | GIF


@dataclass(frozen=True)
class StoredClip:
    """A clip as datawheel stores it: 16-bit FLAC, mono, at ``AUDIO_RATE``, no tags."""

    data: bytes
    seconds: float  # what is stored, after trimming and cutting
    source_seconds: float  # the whole clip as it came
    trimmed: float  # seconds of leading and trailing silence removed
    cut: bool  # longer than max_seconds after trimming: only its start is kept
    source_format: str  # WAV | FLAC | OGG | MP3


def _lossless(data: bytes, fmt: str) -> bool:
    """PNG and GIF, and WebP's lossless flavour (a VP8L chunk), are kept lossless."""
    return fmt in ("PNG", "GIF") or (fmt == "WEBP" and data[12:16] == b"VP8L")


def encode_image(image: Image, *, lossless: bool) -> bytes:
    """PNG or JPEG bytes of ``image`` with nothing but pixels in them."""
    out = io.BytesIO()
    if lossless:
        image.save(out, "PNG", compress_level=6)
    else:
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=False)
    return out.getvalue()


def normalize_image(data: bytes, *, max_pixels: int = MAX_PIXELS) -> tuple[StoredImage, Image]:
    """Decode, check and re-encode an image; also returns the decoded RGB picture (for hashes).

    Raises ``MediaError`` for anything that does not decode (see ``decode.load_image``).
    """
    image = load_image(data, max_pixels=max_pixels)
    fmt = sniff_format(data) or "?"
    stored = encode_image(image, lossless=_lossless(data, fmt))
    return StoredImage(stored, image.width, image.height, fmt), image


def trim_silence(samples: np.ndarray, rate: int, *, silence_db: float) -> tuple[int, int]:
    """The [start, end) sample range between the first and last frame louder than
    ``silence_db`` below the clip's loudest frame (RMS over 25 ms frames, 10 ms apart).

    Raises ``MediaError("empty")`` for a clip that is silent throughout.
    """
    if samples.size == 0 or float(np.max(np.abs(samples))) < _SILENCE_FLOOR:
        raise MediaError("empty", "the clip holds only silence")
    frame, hop = max(1, int(_FRAME_SECONDS * rate)), max(1, int(_HOP_SECONDS * rate))
    if samples.size <= frame:
        return 0, samples.size
    starts = np.arange(0, samples.size - frame + 1, hop)  # [f]
    power = np.convolve(samples.astype(np.float64) ** 2, np.ones(frame) / frame, "valid")[starts]
    db = 10 * np.log10(np.maximum(power, 1e-20))  # [f]
    loud = np.flatnonzero(db >= db.max() - silence_db)
    return int(starts[loud[0]]), int(min(samples.size, starts[loud[-1]] + frame))


def encode_clip(samples: np.ndarray, rate: int = AUDIO_RATE) -> bytes:
    """16-bit FLAC bytes of mono float samples (lossless for 16-bit sources, half of WAV)."""
    import soundfile

    out = io.BytesIO()
    soundfile.write(out, samples, rate, format="FLAC", subtype="PCM_16")
    return out.getvalue()


def normalize_clip(
    data: bytes,
    *,
    max_seconds: float = 30.0,
    trim: bool = True,
    silence_db: float = 40.0,
) -> tuple[StoredClip, np.ndarray]:
    """Decode a clip to mono ``AUDIO_RATE``, trim its silent ends, keep at most
    ``max_seconds``, and re-encode it; also returns the float32 samples stored.

    Up to 30 s more than ``max_seconds`` is decoded so leading silence does not eat the budget.
    Raises ``MediaError`` for anything that does not decode, or a clip of silence only.
    """
    window = min(MAX_AUDIO_SECONDS, max_seconds + 30.0)
    decoded = decode_audio(data, rate=AUDIO_RATE, max_seconds=window)
    samples = decoded.samples
    trimmed = 0.0
    if trim:
        start, end = trim_silence(samples, AUDIO_RATE, silence_db=silence_db)
        trimmed = (samples.size - (end - start)) / AUDIO_RATE
        samples = samples[start:end]
    elif float(np.max(np.abs(samples))) < _SILENCE_FLOOR:
        raise MediaError("empty", "the clip holds only silence")
    limit = int(max_seconds * AUDIO_RATE)
    cut = decoded.cut or samples.size > limit
    samples = samples[:limit]
    stored = StoredClip(
        encode_clip(samples),
        seconds=samples.size / AUDIO_RATE,
        source_seconds=decoded.seconds,
        trimmed=trimmed,
        cut=cut,
        source_format=decoded.format,
    )
    return stored, samples
