"""Decoding one image or clip from a column value: bytes, a path, base64 or a data: URI.

The contract the data stage, training and serving share. Every failure is a ``MediaError``
whose ``reason`` is one of ``REASONS``, so callers count and list bad files instead of crashing.
Pillow and soundfile are imported on first use: a tabular project never loads them.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import struct
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from datawheel.errors import DataError, MissingDependencyError

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = [
    "AUDIO_FORMATS",
    "AUDIO_RATE",
    "IMAGE_FORMATS",
    "MAX_AUDIO_SECONDS",
    "MAX_MEDIA_BYTES",
    "MAX_PIXELS",
    "REASONS",
    "DecodedAudio",
    "MediaError",
    "Reason",
    "decode_audio",
    "load_audio",
    "load_image",
    "media_bytes",
    "sniff_format",
]

AUDIO_RATE = 16_000  # Hz: every clip is resampled to this rate (speech models' common rate)
MAX_PIXELS = 40_000_000  # width x height above which an image is refused (a decompression bomb)
MAX_AUDIO_SECONDS = 600.0  # load_audio reads at most this much of a clip (the rest is cut)
MAX_MEDIA_BYTES = 50 * 1024 * 1024  # a file or value larger than this is refused unread
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
AUDIO_FORMATS = ("WAV", "FLAC", "OGG", "MP3")

Reason = Literal["missing", "empty", "truncated", "corrupt", "unsupported", "too_large"]
REASONS: tuple[Reason, ...] = get_args(Reason)

_HINTS: dict[str, str] = {
    "missing": "check the path (relative paths start at the data file's folder) or the value",
    "empty": "the file or value holds no bytes; re-export it",
    "truncated": "the file ends early (an interrupted upload or copy); re-export it",
    "corrupt": "the bytes do not decode; re-export the file or drop the row",
    "unsupported": "convert it: images to PNG, JPEG, WebP or GIF; audio to WAV, FLAC, OGG or MP3",
    "too_large": "downscale or cut the file, or raise the limit",
}


class MediaError(DataError):
    """An image or clip that cannot be used; ``reason`` is one of ``REASONS``.

    ``detail`` says what exactly was wrong (for the side file); ``where`` names the row and
    column (or the request field) when the caller knows them.
    """

    def __init__(self, reason: Reason, detail: str, *, where: str | None = None):
        assert reason in REASONS, reason
        self.reason: Reason = reason
        self.detail = detail
        super().__init__(f"{reason} media: {detail}", hint=_HINTS[reason], where=where)


# -- the bytes behind a column value -------------------------------------------------------

_DATA_URI = re.compile(r"^data:([\w.+/-]*)((?:;[\w.+-]+=[^;,]*)*)(;base64)?,", re.IGNORECASE)
_B64_ALPHABET = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")
_PATHLIKE_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,5}$")


def media_bytes(
    value: Any, base_dir: Path | None, *, max_bytes: int | None = MAX_MEDIA_BYTES
) -> bytes:
    """The raw bytes a column value stands for.

    A value is raw bytes (a Parquet binary column), a ``data:`` URI, base64 text (JSONL, CSV,
    an HTTP body) or — only when ``base_dir`` is given — a file path, relative to ``base_dir``
    (the data file's folder). With ``base_dir=None`` text is never read as a path, so values
    from outside (a request) cannot name files on this machine.
    """
    if value is None:
        raise MediaError("missing", "no value")
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
    elif isinstance(value, str):
        data = _text_bytes(value.strip(), base_dir, max_bytes)
    else:
        raise MediaError(
            "unsupported", f"a {type(value).__name__} value; expected bytes, a path or base64"
        )
    if not data:
        raise MediaError("empty", "0 bytes")
    _check_size(len(data), max_bytes)
    return data


def _check_size(size: int, max_bytes: int | None) -> None:
    if max_bytes is not None and size > max_bytes:
        raise MediaError("too_large", f"{size} bytes, more than the limit of {max_bytes}")


def _text_bytes(text: str, base_dir: Path | None, max_bytes: int | None) -> bytes:
    if not text:
        raise MediaError("missing", "an empty value")
    if text[:5].lower() == "data:":
        return _data_uri(text)
    if base_dir is not None and len(text) <= 4096 and "\n" not in text:
        path = Path(text).expanduser()
        path = path if path.is_absolute() else base_dir / path
        try:
            is_file = path.is_file()
        except OSError:  # a name too long for the file system (base64): judged below
            is_file = False
        if is_file:
            _check_size(path.stat().st_size, max_bytes)
            try:
                return path.read_bytes()
            except OSError as exc:
                raise MediaError("missing", f"cannot read {path}: {exc.strerror}") from None
    compact = "".join(text.split())
    if len(compact) >= 8 and _B64_ALPHABET.match(compact):
        try:
            return _b64decode(compact)
        except (binascii.Error, ValueError):
            pass  # not base64 after all: judged as a path below
    if base_dir is not None and _looks_like_path(text):
        raise MediaError("missing", f"file not found: {text}")
    raise MediaError("corrupt", "text that is neither a file path nor base64")


def _looks_like_path(text: str) -> bool:
    return "/" in text or "\\" in text or bool(_PATHLIKE_SUFFIX.search(text))


def _b64decode(text: str) -> bytes:
    """Standard or URL-safe base64, with or without padding."""
    padded = text + "=" * (-len(text) % 4)
    if "-" in text or "_" in text:
        return base64.urlsafe_b64decode(padded)
    return base64.b64decode(padded, validate=True)


def _data_uri(text: str) -> bytes:
    match = _DATA_URI.match(text)
    if match is None:
        raise MediaError("corrupt", "a malformed data: URI (expected data:TYPE;base64,...)")
    payload = text[match.end() :]
    if match.group(3):
        try:
            return _b64decode("".join(payload.split()))
        except (binascii.Error, ValueError):
            raise MediaError("corrupt", "the data: URI's base64 does not decode") from None
    return urllib.parse.unquote_to_bytes(payload)


# -- sniffing ------------------------------------------------------------------------------


def sniff_format(data: bytes) -> str | None:
    """The file format from its first bytes: PNG, JPEG, WEBP, GIF, WAV, FLAC, OGG, MP3, or
    the name of a format datawheel does not decode (so an error can say what the file is)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:4] in (b"RIFF", b"RIFX") and data[8:12] == b"WAVE":
        return "WAV"
    if data[:4] == b"fLaC":
        return "FLAC"
    if data[:4] == b"OggS":
        return "OGG"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "MP3"
    return _other_format(data)


def _other_format(data: bytes) -> str | None:
    """Formats datawheel does not decode, named so the error can say what the file is."""
    head = data[:64].lstrip()
    known = (
        (data[:2] == b"BM", "BMP"),
        (data[:4] in (b"II*\x00", b"MM\x00*"), "TIFF"),
        (data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1"), "HEIC"),
        (data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis"), "AVIF"),
        (data[4:8] == b"ftyp", "MP4/M4A"),
        (data[:4] == b"\x1aE\xdf\xa3", "WebM/Matroska"),
        (data[:5] == b"#!AMR", "AMR"),
        (data[:4] == b"FORM", "AIFF"),
        (data[:4] == b"%PDF", "PDF"),
        (head[:1] == b"<" and b"svg" in data[:1024].lower(), "SVG"),
        (data[:4] == b"\x00\x00\x01\x00", "ICO"),
        (data[:4] == b"RIFF" and data[8:12] == b"AVI ", "AVI"),
        (data[:4] == b"RIFF", "RIFF"),
        (data[:4] == b"PK\x03\x04", "ZIP"),
    )
    return next((name for hit, name in known if hit), None)


def _riff_truncated(data: bytes) -> bool:
    """A RIFF file (WAV, WebP) whose header promises more bytes than it holds."""
    if len(data) < 12:
        return True
    (size,) = struct.unpack("<I" if data[:4] == b"RIFF" else ">I", data[4:8])
    return len(data) < size + 8


def _image_truncated(fmt: str, data: bytes) -> bool:
    """The format's end marker is missing: the file stops early."""
    tail = data.rstrip(b"\x00")  # some cameras pad after the end marker
    if fmt == "PNG":
        return b"IEND" not in tail[-64:]
    if fmt == "JPEG":
        return b"\xff\xd9" not in tail[-4096:]
    if fmt == "GIF":
        return not tail.endswith(b";")
    return _riff_truncated(data)  # WEBP


# -- images --------------------------------------------------------------------------------


def load_image(data: bytes, *, max_pixels: int = MAX_PIXELS) -> Image:
    """An RGB image with its EXIF orientation applied and no metadata; a GIF's first frame.

    Transparent pixels are laid on white. Raises ``MediaError`` (never anything else) when
    the bytes are empty, not one of ``IMAGE_FORMATS``, cut short, corrupt or over
    ``max_pixels``.
    """
    pil_image, image_ops = _pillow()
    if not data:
        raise MediaError("empty", "0 bytes")
    fmt = sniff_format(data)
    if fmt is None:
        raise MediaError("corrupt", "not a PNG, JPEG, WebP or GIF image")
    if fmt not in IMAGE_FORMATS:
        raise MediaError("unsupported", f"a {fmt} file; images must be PNG, JPEG, WebP or GIF")
    if _image_truncated(fmt, data):
        raise MediaError("truncated", f"the {fmt} data ends before its end marker")
    try:
        with pil_image.open(io.BytesIO(data), formats=[fmt]) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise MediaError(
                    "too_large", f"{width}x{height} pixels, more than the limit of {max_pixels}"
                )
            image.seek(0)
            image.load()
            upright = image_ops.exif_transpose(image)
            return _rgb(upright, pil_image)
    except pil_image.DecompressionBombError as exc:
        raise MediaError("too_large", str(exc)) from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        # Pillow's decoders signal a bad file with these; MemoryError is left to propagate
        reason: Reason = "truncated" if "truncat" in str(exc).lower() else "corrupt"
        raise MediaError(reason, f"the {fmt} data does not decode ({exc})") from None


def _rgb(image: Image, pil_image: Any) -> Image:
    """RGB pixels only: alpha laid on white, palette expanded, every metadata field dropped."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = pil_image.new("RGBA", rgba.size, (255, 255, 255, 255))
        canvas.alpha_composite(rgba)
        image = canvas
    rgb = image.convert("RGB")
    clean = pil_image.new("RGB", rgb.size)
    clean.paste(rgb)
    return clean


def _pillow() -> tuple[Any, Any]:
    try:
        from PIL import Image as pil_image
        from PIL import ImageOps as image_ops
    except ImportError:
        raise MissingDependencyError("Pillow", "media", purpose="image columns") from None
    return pil_image, image_ops


# -- audio ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecodedAudio:
    """A clip as float32 mono samples at ``rate``; ``seconds`` is the whole clip's length."""

    samples: np.ndarray  # float32 [n], in [-1, 1]
    rate: int
    seconds: float  # before any cut
    cut: bool  # True when the clip was longer than max_seconds and only its start was read
    format: str


def load_audio(
    data: bytes, *, rate: int = AUDIO_RATE, max_seconds: float = MAX_AUDIO_SECONDS
) -> np.ndarray:
    """Float32 mono samples at ``rate``: at most ``max_seconds`` of the clip's start."""
    return decode_audio(data, rate=rate, max_seconds=max_seconds).samples


def decode_audio(
    data: bytes, *, rate: int = AUDIO_RATE, max_seconds: float = MAX_AUDIO_SECONDS
) -> DecodedAudio:
    """Decode a WAV, FLAC, OGG or MP3 clip, mix it to mono and resample it to ``rate``.

    Only the first ``max_seconds`` are decoded (a long or lying header cannot exhaust memory);
    ``cut`` says whether that dropped the rest. Raises ``MediaError`` on any bad input.
    """
    soundfile, soxr = _audio_libraries()
    if not data:
        raise MediaError("empty", "0 bytes")
    fmt = sniff_format(data)
    if fmt is None:
        raise MediaError("corrupt", "not a WAV, FLAC, OGG or MP3 clip")
    if fmt not in AUDIO_FORMATS:
        raise MediaError("unsupported", f"a {fmt} file; audio must be WAV, FLAC, OGG or MP3")
    if fmt == "WAV" and _riff_truncated(data):
        raise MediaError("truncated", "the WAV data ends before the length its header gives")
    try:
        clip = soundfile.SoundFile(io.BytesIO(data))
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise MediaError("corrupt", f"the {fmt} data does not decode ({_short(exc)})") from None
    with clip:
        source_rate, declared = int(clip.samplerate), int(clip.frames)
        if source_rate <= 0:
            raise MediaError("corrupt", f"the {fmt} header gives a sample rate of {source_rate}")
        limit = int(max_seconds * source_rate)
        try:
            frames = clip.read(frames=min(declared, limit) if declared > 0 else limit,
                               dtype="float32", always_2d=True)  # fmt: skip
        except (soundfile.LibsndfileError, RuntimeError) as exc:
            raise MediaError("truncated", f"the {fmt} stream breaks ({_short(exc)})") from None
    expected = min(declared, limit)
    if declared > 0 and len(frames) < 0.98 * expected:
        raise MediaError(
            "truncated", f"the {fmt} stream ends after {len(frames)} of {declared} frames"
        )
    if len(frames) == 0:
        raise MediaError("empty", f"a {fmt} clip with no samples")
    mono = frames.mean(axis=1)  # [n]
    if not np.isfinite(mono).all():
        raise MediaError("corrupt", f"the {fmt} clip holds NaN or infinite samples")
    if source_rate != rate:
        mono = soxr.resample(mono, source_rate, rate)
    seconds = (declared if declared > 0 else len(frames)) / source_rate
    samples = np.clip(np.ascontiguousarray(mono, dtype=np.float32), -1.0, 1.0)
    return DecodedAudio(samples, rate, seconds, cut=seconds > max_seconds, format=fmt)


def _short(exc: BaseException) -> str:
    """libsndfile's message without the ``<_io.BytesIO object at 0x…>`` noise."""
    text = re.sub(r"Error opening <[^>]*>: ", "", str(exc))
    return text.strip() or type(exc).__name__


def _audio_libraries() -> tuple[Any, Any]:
    try:
        import soundfile
        import soxr
    except ImportError as exc:
        raise MissingDependencyError(
            exc.name or "soundfile", "media", purpose="audio columns"
        ) from None
    return soundfile, soxr
