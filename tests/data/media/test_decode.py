"""The decoding contract: any column value to bytes, bytes to an RGB image or a mono clip."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datawheel.data.media.decode import (
    AUDIO_RATE,
    REASONS,
    MediaError,
    decode_audio,
    load_audio,
    load_image,
    media_bytes,
)
from datawheel.errors import DataError

from .samples import clip, encode, gif_frames, picture, tone

PNG = encode(picture(1), "PNG")


# -- media_bytes ---------------------------------------------------------------------------


def test_media_bytes_when_given_bytes_then_returns_them():
    assert media_bytes(PNG, None) == PNG
    assert media_bytes(memoryview(PNG), None) == PNG


def test_media_bytes_when_given_a_relative_path_then_reads_beside_the_data_file(tmp_path: Path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.png").write_bytes(PNG)
    assert media_bytes("photos/a.png", tmp_path) == PNG
    assert media_bytes(str(tmp_path / "photos" / "a.png"), Path("/")) == PNG  # absolute


@pytest.mark.parametrize(
    "text",
    [
        base64.b64encode(PNG).decode(),  # JSONL/CSV base64
        base64.b64encode(PNG).decode().rstrip("="),  # padding dropped
        base64.urlsafe_b64encode(PNG).decode(),  # URL-safe alphabet
        "data:image/png;base64," + base64.b64encode(PNG).decode(),  # a data: URI
        base64.encodebytes(PNG).decode(),  # wrapped at 76 columns
    ],
)
def test_media_bytes_when_given_base64_text_then_decodes_it(text: str):
    assert media_bytes(text, None) == PNG


def test_media_bytes_when_no_base_dir_then_never_reads_a_path(tmp_path: Path):
    (tmp_path / "a.png").write_bytes(PNG)
    with pytest.raises(MediaError) as caught:
        media_bytes(str(tmp_path / "a.png"), None)
    assert caught.value.reason == "corrupt"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "missing"),  # a null cell
        ("", "missing"),  # an empty string cell
        ("photos/nope.png", "missing"),  # a path to no file
        (b"", "empty"),  # a zero-byte binary cell
        ("hello world!", "corrupt"),  # neither a path nor base64
        ("data:image/png;base64,@@@", "corrupt"),  # a broken data: URI
        (12, "unsupported"),  # a number where a file should be
    ],
)
def test_media_bytes_when_value_is_bad_then_raises_by_reason(
    tmp_path: Path, value: object, reason: str
):
    with pytest.raises(MediaError) as caught:
        media_bytes(value, tmp_path)
    assert caught.value.reason == reason
    assert isinstance(caught.value, DataError) and caught.value.hint


def test_media_bytes_when_file_is_empty_or_over_the_limit_then_says_so(tmp_path: Path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "big.png").write_bytes(PNG)
    with pytest.raises(MediaError, match="empty"):
        media_bytes("empty.wav", tmp_path)
    with pytest.raises(MediaError) as caught:
        media_bytes("big.png", tmp_path, max_bytes=len(PNG) - 1)
    assert caught.value.reason == "too_large"


# -- images --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_load_image_when_format_is_supported_then_returns_rgb_of_the_same_size(fmt: str):
    image = load_image(encode(picture(2, (40, 24)), fmt))
    assert image.mode == "RGB" and image.size == (40, 24)
    assert image.info == {}  # nothing of the file's metadata comes along


def test_load_image_when_lossless_then_pixels_are_exact():
    source = picture(3)
    assert np.array_equal(np.asarray(load_image(encode(source, "PNG"))), np.asarray(source))


def test_load_image_when_exif_says_rotated_then_applies_the_orientation():
    source = picture(4, (40, 20))
    rotated = load_image(encode(source, "JPEG", metadata=True, orientation=6))  # 90° clockwise
    assert rotated.size == (20, 40)


def test_load_image_when_gif_is_animated_then_returns_the_first_frame():
    first, second = picture(5), Image.new("RGB", (48, 32), (255, 0, 0))
    frame = np.asarray(load_image(gif_frames(first, second))).astype(int)
    assert np.abs(frame - np.asarray(first)).mean() < 20  # GIF's palette rounds, red is far
    assert np.abs(frame - np.asarray(second)).mean() > 60


def test_load_image_when_transparent_then_lays_it_on_white():
    image = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    assert load_image(encode(image, "PNG")).getpixel((3, 3)) == (255, 255, 255)


def _corrupt_middle(data: bytes) -> bytes:
    cut = len(data) // 3
    return data[:cut] + bytes(64) + data[cut + 64 :]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: b"", "empty"),
        (lambda: PNG[: len(PNG) // 2], "truncated"),  # an interrupted copy
        (lambda: encode(picture(6), "JPEG")[:300], "truncated"),
        (lambda: encode(picture(6), "GIF")[:-40], "truncated"),
        (lambda: encode(picture(6), "WEBP")[:-30], "truncated"),
        (lambda: PNG[:16] + bytes(32) + PNG[48:], "corrupt"),  # a damaged header
        (lambda: _corrupt_middle(encode(picture(6, (64, 64)), "PNG")), "corrupt"),
        (lambda: b"just some text, not an image at all", "corrupt"),
        (lambda: encode(picture(6), "BMP"), "unsupported"),
        (lambda: encode(picture(6), "TIFF"), "unsupported"),
        (lambda: clip(tone(0.1)), "unsupported"),  # audio in an image column
    ],
)
def test_load_image_when_bytes_are_bad_then_raises_by_reason(make, reason: str):
    with pytest.raises(MediaError) as caught:
        load_image(make())
    assert caught.value.reason == reason


def test_load_image_when_over_max_pixels_then_too_large_before_decoding():
    with pytest.raises(MediaError) as caught:
        load_image(encode(Image.new("RGB", (300, 200)), "PNG"), max_pixels=300 * 200 - 1)
    assert caught.value.reason == "too_large"


# -- audio ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["WAV", "FLAC", "OGG", "MP3"])
def test_load_audio_when_format_is_supported_then_mono_float32_at_the_rate(fmt: str):
    samples = load_audio(clip(tone(1.0, 22_050, channels=2), 22_050, fmt))
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(len(samples) - AUDIO_RATE) < AUDIO_RATE * 0.1  # MP3 pads a frame or two
    spectrum = np.abs(np.fft.rfft(samples))
    peak_hz = np.argmax(spectrum) * AUDIO_RATE / len(samples)
    assert abs(peak_hz - 440) < 5  # the tone survived decoding, mixing and resampling


def test_decode_audio_when_longer_than_max_seconds_then_cuts_and_says_so():
    decoded = decode_audio(clip(tone(3.0, 8_000), 8_000), rate=8_000, max_seconds=1.0)
    assert decoded.cut and decoded.seconds == pytest.approx(3.0)
    assert len(decoded.samples) == 8_000
    whole = decode_audio(clip(tone(0.5, 8_000), 8_000), rate=8_000, max_seconds=1.0)
    assert not whole.cut and len(whole.samples) == 4_000


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: b"", "empty"),
        (lambda: clip(tone(1.0))[:5000], "truncated"),  # WAV: fewer bytes than its header says
        (lambda: clip(tone(1.0), fmt="FLAC")[:3000], "truncated"),
        (lambda: clip(tone(1.0), fmt="OGG")[:200], "corrupt"),
        (lambda: b"RIFF" + (36).to_bytes(4, "little") + b"WAVE" + bytes(36), "corrupt"),
        (lambda: b"plain text pretending to be sound", "corrupt"),
        (lambda: b"\x00\x00\x00\x20ftypM4A " + bytes(64), "unsupported"),  # AAC in MP4
        (lambda: PNG, "unsupported"),  # an image in an audio column
        (lambda: clip(np.zeros(0, dtype=np.float32)), "empty"),  # a header and no samples
    ],
)
def test_load_audio_when_bytes_are_bad_then_raises_by_reason(make, reason: str):
    with pytest.raises(MediaError) as caught:
        load_audio(make())
    assert caught.value.reason == reason


def test_media_error_when_raised_then_is_one_line_with_reason_and_hint():
    error = MediaError("truncated", "the PNG data ends early", where="row 3, column photo")
    assert error.reason in REASONS and error.detail == "the PNG data ends early"
    assert str(error).startswith("row 3, column photo: truncated media")
    assert "hint:" in str(error)
