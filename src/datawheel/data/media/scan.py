"""Personal data in images, for ``pii scan --images``: faces in the pixels, and the GPS
position, device serials and names that a file's EXIF, XMP and IPTC blocks carry."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from datawheel.data.media.decode import MediaError, load_image, media_bytes
from datawheel.data.media.faces import FaceDetector
from datawheel.data.media.metadata import personal_metadata

__all__ = ["scan_image_values"]


def scan_image_values(
    values: Sequence[Any], column: str, *, base_dir: Path | None, workers: int | None = None
) -> list[list[dict[str, Any]]]:
    """Per value, the findings: ``{"column", "type", "source", "field"}`` for a metadata
    field (GPS_LOCATION, DEVICE_SERIAL, PERSON, LOCATION), ``{"column", "type": "FACE",
    "source": "pixels", "box": [x, y, w, h]}`` for a face (in the upright picture's pixels),
    or ``{"column", "error": reason}`` for a file that does not decode. A null value: []."""
    detector = FaceDetector()

    def one(value: Any) -> list[dict[str, Any]]:
        if value is None or (isinstance(value, str) and not value.strip()):
            return []
        try:
            data = media_bytes(value, base_dir)
            image = load_image(data)
        except MediaError as exc:
            return [{"column": column, "error": exc.reason}]
        found: list[dict[str, Any]] = [
            {"column": column, **m.to_dict()} for m in personal_metadata(data)
        ]
        found += [
            {"column": column, "type": "FACE", "source": "pixels", "box": list(box)}
            for box in detector.detect(image)
        ]
        return found

    count = workers or min(8, os.cpu_count() or 1)
    if count <= 1 or len(values) < 2:
        return [one(v) for v in values]
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, values, chunksize=8))
