"""Personal data carried by an image file's metadata: what ``pii scan`` reports for images.

datawheel never stores these fields (``media.normalize`` re-encodes pixels only); this module
says what a file *held*, so a team knows what its uploads leak. Values are never returned —
the finding names the field, not its content.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["MetadataFinding", "personal_metadata"]

# EXIF tags that name a person or a device (tag id -> (type, field name))
_EXIF_0TH = {0x013B: ("PERSON", "Artist"), 0x8298: ("PERSON", "Copyright"),
             0x9C9D: ("PERSON", "XPAuthor")}  # fmt: skip
_EXIF_SUB = {
    0xA430: ("PERSON", "CameraOwnerName"),
    0xA431: ("DEVICE_SERIAL", "BodySerialNumber"),
    0xA435: ("DEVICE_SERIAL", "LensSerialNumber"),
    0xA420: ("DEVICE_SERIAL", "ImageUniqueID"),
}
_GPS_IFD, _EXIF_IFD = 0x8825, 0x8769
_XMP_PERSON = (b"dc:creator", b"photoshop:AuthorsPosition", b"xmpRights:Owner", b"Iptc4xmpCore")
_XMP_GPS = (b"exif:GPSLatitude", b"exif:GPSLongitude")
_IPTC = {(2, 80): ("PERSON", "By-line"), (2, 116): ("PERSON", "CopyrightNotice"),
         (2, 118): ("PERSON", "Contact"), (2, 90): ("LOCATION", "City")}  # fmt: skip


@dataclass(frozen=True)
class MetadataFinding:
    """One personal field in a file: its type, where it sits, and the field's name."""

    type: str  # GPS_LOCATION | DEVICE_SERIAL | PERSON | LOCATION
    source: str  # exif | xmp | iptc
    field: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def personal_metadata(data: bytes) -> list[MetadataFinding]:
    """The personal fields an image file's EXIF, XMP and IPTC blocks carry (none: [])."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            found = _exif(image.getexif())
            found += _xmp(image.info.get("xmp") or image.info.get("XML:com.adobe.xmp") or b"")
            found += _iptc(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return []  # not an image: nothing to report here (media check says why)
    return found


def _exif(exif: Any) -> list[MetadataFinding]:
    found = []
    gps = exif.get_ifd(_GPS_IFD)
    if any(tag in gps for tag in (1, 2, 3, 4)):  # latitude/longitude and their refs
        found.append(MetadataFinding("GPS_LOCATION", "exif", "GPSInfo"))
    sub = exif.get_ifd(_EXIF_IFD)
    for table, tags in ((_EXIF_0TH, exif), (_EXIF_SUB, sub)):
        for tag, (kind, name) in table.items():
            if _filled(tags.get(tag)):
                found.append(MetadataFinding(kind, "exif", name))
    return found


def _filled(value: Any) -> bool:
    if isinstance(value, bytes):
        value = value.strip(b"\x00 ")
    elif isinstance(value, str):
        value = value.strip("\x00 ")
    return bool(value)


def _xmp(xmp: Any) -> list[MetadataFinding]:
    raw = xmp.encode("utf-8", "replace") if isinstance(xmp, str) else bytes(xmp)
    found = []
    if any(tag in raw for tag in _XMP_GPS):
        found.append(MetadataFinding("GPS_LOCATION", "xmp", "exif:GPSLatitude"))
    for tag in _XMP_PERSON:
        if tag in raw:
            found.append(MetadataFinding("PERSON", "xmp", tag.decode()))
    return found


def _iptc(image: Any) -> list[MetadataFinding]:
    from PIL import IptcImagePlugin

    try:
        info = IptcImagePlugin.getiptcinfo(image) or {}
    except (OSError, SyntaxError, ValueError, IndexError):
        return []  # a damaged IPTC block: Pillow cannot say which fields it holds
    return [MetadataFinding(kind, "iptc", name) for key, (kind, name) in _IPTC.items()
            if _filled(info.get(key))]  # fmt: skip
