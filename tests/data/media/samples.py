"""Real media files for tests, made here: images with metadata, clips of tones and silence."""

from __future__ import annotations

import io

import numpy as np
import piexif
import soundfile
from PIL import Image

# A camera's personal data: where the photo was taken, the device's serial, its owner.
GPS_LATITUDE = ((48, 1), (51, 1), (2967, 100))
SERIAL = "SN-4711-CAMERA"
OWNER = "Ada Lovelace"
XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    f'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>{OWNER}</dc:creator>'
    "</rdf:Description></rdf:RDF></x:xmpmeta>"
)


def picture(seed: int = 0, size: tuple[int, int] = (48, 32)) -> Image.Image:
    """A smooth random picture (gradients + blobs), distinct per seed, stable across runs."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w] / max(w, h)
    channels = []
    for _ in range(3):
        a, b, c = rng.uniform(-3, 3, size=3)
        channels.append(np.sin(a * x * 6 + b * y * 6 + c) * 0.5 + 0.5)
    pixels = (np.stack(channels, axis=-1) * 255).astype(np.uint8)  # [h, w, 3]
    return Image.fromarray(pixels, "RGB")


def exif_bytes(orientation: int = 1) -> bytes:
    """EXIF with GPS position, body serial number, owner name and an orientation tag."""
    return piexif.dump(
        {
            "0th": {
                piexif.ImageIFD.Orientation: orientation,
                piexif.ImageIFD.Artist: OWNER.encode(),
                piexif.ImageIFD.Make: b"Acme",
            },
            "Exif": {
                piexif.ExifIFD.BodySerialNumber: SERIAL.encode(),
                piexif.ExifIFD.CameraOwnerName: OWNER.encode(),
            },
            "GPS": {
                piexif.GPSIFD.GPSLatitudeRef: b"N",
                piexif.GPSIFD.GPSLatitude: GPS_LATITUDE,
            },
        }
    )


def encode(image: Image.Image, fmt: str, *, metadata: bool = False, orientation: int = 1) -> bytes:
    """The image as a PNG/JPEG/WEBP/GIF file; ``metadata`` adds EXIF (and XMP where it fits)."""
    out = io.BytesIO()
    options: dict[str, object] = {}
    if metadata:
        options["exif"] = exif_bytes(orientation)
        if fmt in ("JPEG", "WEBP", "PNG"):
            options["xmp"] = XMP.encode()
    image.save(out, fmt, **options)
    return out.getvalue()


def gif_frames(first: Image.Image, second: Image.Image) -> bytes:
    out = io.BytesIO()
    first.save(out, "GIF", save_all=True, append_images=[second], duration=100)
    return out.getvalue()


def tone(seconds: float, rate: int = 22_050, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    """A sine at ``freq`` Hz: [n] (mono) or [n, channels]."""
    t = np.arange(int(seconds * rate)) / rate
    wave = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return wave if channels == 1 else np.stack([wave] * channels, axis=1)


def clip(samples: np.ndarray, rate: int = 22_050, fmt: str = "WAV") -> bytes:
    out = io.BytesIO()
    soundfile.write(out, samples, rate, format=fmt)
    return out.getvalue()


def with_iptc(jpeg: bytes, byline: str) -> bytes:
    """A JPEG with an IPTC By-line in a Photoshop APP13 block (Pillow cannot write one)."""
    text = byline.encode()
    iptc = b"\x1c\x02\x50" + len(text).to_bytes(2, "big") + text  # record 2, dataset 80
    resource = b"8BIM" + b"\x04\x04" + b"\x00\x00" + len(iptc).to_bytes(4, "big") + iptc
    resource += b"\x00" * (len(iptc) % 2)
    payload = b"Photoshop 3.0\x00" + resource
    segment = b"\xff\xed" + (len(payload) + 2).to_bytes(2, "big") + payload
    return jpeg[:2] + segment + jpeg[2:]
