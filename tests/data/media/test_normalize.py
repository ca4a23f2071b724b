"""Normalization: what is stored has pixels and samples only, deterministic, trimmed and cut."""

from __future__ import annotations

import io

import numpy as np
import piexif
import pytest
import soundfile
from PIL import Image

from datawheel.data.media.decode import AUDIO_RATE, MediaError, load_audio, load_image
from datawheel.data.media.metadata import personal_metadata
from datawheel.data.media.normalize import normalize_clip, normalize_image, trim_silence

from .samples import GPS_LATITUDE, OWNER, SERIAL, clip, encode, picture, tone, with_iptc


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_normalize_image_when_file_carries_exif_xmp_then_stored_bytes_hold_none(fmt: str):
    source = encode(picture(1), fmt, metadata=True)
    assert OWNER.encode() in source and SERIAL.encode() in source  # the test file does carry them
    stored, _ = normalize_image(source)
    for secret in (OWNER.encode(), SERIAL.encode(), b"Exif", b"xmpmeta", b"GPS"):
        assert secret not in stored.data
    with Image.open(io.BytesIO(stored.data)) as image:
        assert not image.getexif() and "xmp" not in image.info
    assert personal_metadata(stored.data) == []


def test_normalize_image_when_jpeg_has_iptc_then_stored_bytes_drop_it():
    source = with_iptc(encode(picture(2), "JPEG"), OWNER)
    assert {f.source for f in personal_metadata(source)} == {"iptc"}
    stored, _ = normalize_image(source)
    assert OWNER.encode() not in stored.data and b"Photoshop" not in stored.data


def test_personal_metadata_when_file_carries_gps_serial_owner_then_names_each_field():
    found = {(f.type, f.source, f.field) for f in personal_metadata(
        encode(picture(3), "JPEG", metadata=True))}  # fmt: skip
    assert ("GPS_LOCATION", "exif", "GPSInfo") in found
    assert ("DEVICE_SERIAL", "exif", "BodySerialNumber") in found
    assert ("PERSON", "exif", "CameraOwnerName") in found
    assert ("PERSON", "xmp", "dc:creator") in found
    assert piexif.load(encode(picture(3), "JPEG", metadata=True))["GPS"][2] == GPS_LATITUDE


def test_normalize_image_when_same_pixels_in_other_files_then_same_bytes():
    image = picture(4)
    plain, _ = normalize_image(encode(image, "PNG"))
    tagged, _ = normalize_image(encode(image, "PNG", metadata=True))
    webp = io.BytesIO()
    image.save(webp, "WEBP", lossless=True)
    lossless_webp, _ = normalize_image(webp.getvalue())
    assert plain.data == tagged.data == lossless_webp.data
    assert (plain.width, plain.height, plain.source_format) == (48, 32, "PNG")


def test_normalize_image_when_lossy_source_then_stays_jpeg_and_lossless_stays_png():
    assert normalize_image(encode(picture(5), "JPEG"))[0].data[:3] == b"\xff\xd8\xff"
    assert normalize_image(encode(picture(5), "GIF"))[0].data[:4] == b"\x89PNG"
    assert np.array_equal(
        np.asarray(load_image(normalize_image(encode(picture(5), "PNG"))[0].data)),
        np.asarray(picture(5)),
    )


def _padded_tone(lead: float, body: float, tail: float, rate: int = 22_050) -> np.ndarray:
    silence = np.zeros(int(lead * rate), dtype=np.float32)
    return np.concatenate([silence, tone(body, rate), np.zeros(int(tail * rate), np.float32)])


def test_normalize_clip_when_silence_around_then_trimmed_and_resampled():
    stored, samples = normalize_clip(clip(_padded_tone(0.5, 1.0, 0.7)), max_seconds=30)
    assert stored.seconds == pytest.approx(1.0, abs=0.05)
    assert stored.trimmed == pytest.approx(1.2, abs=0.05)
    assert stored.source_seconds == pytest.approx(2.2, abs=0.01) and not stored.cut
    assert stored.data[:4] == b"fLaC"
    assert np.allclose(load_audio(stored.data), samples, atol=1e-4)  # 16-bit: ~3e-5 steps


def test_normalize_clip_when_longer_than_max_seconds_then_cut_and_flagged():
    stored, samples = normalize_clip(clip(tone(3.0, 8_000), 8_000), max_seconds=1.0)
    assert stored.cut and len(samples) == AUDIO_RATE and stored.seconds == 1.0


def test_normalize_clip_when_trim_off_then_keeps_the_silence():
    stored, _ = normalize_clip(clip(_padded_tone(0.5, 1.0, 0.5)), trim=False)
    assert stored.seconds == pytest.approx(2.0, abs=0.01) and stored.trimmed == 0.0


def test_normalize_clip_when_tags_then_stored_clip_has_none():
    out = io.BytesIO()
    with soundfile.SoundFile(out, "w", 22_050, 1, format="FLAC") as f:
        f.artist = OWNER
        f.comment = SERIAL
        f.write(tone(0.5))
    assert OWNER.encode() in out.getvalue()
    stored, _ = normalize_clip(out.getvalue())
    assert OWNER.encode() not in stored.data and SERIAL.encode() not in stored.data


def test_normalize_clip_when_only_silence_then_empty():
    with pytest.raises(MediaError) as caught:
        normalize_clip(clip(np.zeros(22_050, dtype=np.float32)))
    assert caught.value.reason == "empty"


def test_trim_silence_when_quiet_speech_then_keeps_it():
    rate = 16_000
    quiet = np.concatenate([np.zeros(rate), 0.01 * np.sin(np.arange(rate) / 5), np.zeros(rate)])
    start, end = trim_silence(quiet.astype(np.float32), rate, silence_db=40)
    assert start == pytest.approx(rate, abs=rate * 0.03)
    assert end == pytest.approx(2 * rate, abs=rate * 0.03)
