"""Face blurring (``privacy.images.faces: blur``) with the Haar cascade that ships in OpenCV.

No model is downloaded: ``opencv-python-headless`` (4.x) carries its cascades in
``cv2.data.haarcascades``. Precision and recall on scikit-image's labelled face / non-face
patches are in docs/benchmarks.md (``benchmarks/bench_faces.py``).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from datawheel.errors import MissingDependencyError

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = [
    "CASCADE",
    "FaceDetector",
    "blur_column",
    "blur_faces",
    "blur_image_bytes",
    "cascade_path",
    "detect_faces",
]

CASCADE = "haarcascade_frontalface_alt2.xml"  # of OpenCV's frontal cascades, the best on LFW
DETECT_SIDE = 1024  # larger pictures are searched at this size (faces stay >= 24 px)
BLOCKS = 6  # a face is pixelated to this many blocks across before it is smoothed
MARGIN = 0.2  # the blurred box grows by this share on each side (hair line, chin, ears)
_local = threading.local()  # a CascadeClassifier is not safe to share between threads


def _cv2() -> Any:
    try:
        import cv2
    except ImportError:
        raise MissingDependencyError(
            "opencv-python-headless", "media", purpose="privacy.images.faces: blur"
        ) from None
    return cv2


def cascade_path() -> Path:
    """The cascade file inside the installed OpenCV (``cv2.data.haarcascades``; found beside
    ``cv2/__init__.py`` because cv2 fills ``cv2.data`` only when no other top-level ``data``
    package was imported first)."""
    return Path(_cv2().__file__).parent / "data" / CASCADE


class FaceDetector:
    """Frontal faces in a picture, as (x, y, width, height) boxes in its pixels."""

    def __init__(self, *, min_neighbors: int = 4, min_size: int = 24, scale_factor: float = 1.1):
        self.min_neighbors, self.min_size, self.scale_factor = (
            min_neighbors, min_size, scale_factor,
        )  # fmt: skip

    def _classifier(self) -> Any:
        classifier = getattr(_local, "classifier", None)
        if classifier is None:
            cv2 = _cv2()
            classifier = cv2.CascadeClassifier(str(cascade_path()))
            if classifier.empty():
                raise MissingDependencyError(
                    "opencv-python-headless<5", "media", purpose=f"the cascade {CASCADE}"
                )
            _local.classifier = classifier
        return classifier

    def detect(self, image: Image) -> list[tuple[int, int, int, int]]:
        cv2 = _cv2()
        gray = np.asarray(image.convert("L"))  # [h, w] uint8
        factor = min(1.0, DETECT_SIDE / max(gray.shape))
        if factor < 1.0:
            size = (round(gray.shape[1] * factor), round(gray.shape[0] * factor))
            gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
        found = self._classifier().detectMultiScale(
            gray,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size),
        )
        return [
            (round(x / factor), round(y / factor), round(w / factor), round(h / factor))
            for x, y, w, h in (map(float, box) for box in found)
        ]


def detect_faces(
    image: Image, detector: FaceDetector | None = None
) -> list[tuple[int, int, int, int]]:
    """Boxes of the frontal faces in ``image``."""
    return list((detector or FaceDetector()).detect(image))


def blur_faces(image: Image, detector: FaceDetector | None = None) -> tuple[Image, int]:
    """A copy of ``image`` with every detected face (plus a margin) blurred past recognition,
    and the number of faces."""
    from PIL import Image as pil_image
    from PIL import ImageFilter

    boxes = detect_faces(image, detector)
    if not boxes:
        return image, 0
    out = image.copy()
    for x, y, w, h in boxes:
        dx, dy = int(w * MARGIN), int(h * MARGIN)
        box = (max(0, x - dx), max(0, y - dy), min(out.width, x + w + dx),
               min(out.height, y + h + dy))  # fmt: skip
        region = out.crop(box)
        # pixelate to ~6 blocks across the face, then smooth: no facial feature survives
        # (checked: the detector no longer finds the face afterwards)
        blocks = (max(1, region.width * BLOCKS // w), max(1, region.height * BLOCKS // h))
        small = region.resize(blocks, pil_image.Resampling.BILINEAR)
        region = small.resize(region.size, pil_image.Resampling.NEAREST)
        region = region.filter(ImageFilter.GaussianBlur(max(2, w // 5)))
        out.paste(region, box[:2])
    return out, len(boxes)


def blur_image_bytes(data: bytes, detector: FaceDetector | None = None) -> tuple[bytes, int]:
    """Stored image bytes (PNG or JPEG, ``media.normalize``) with faces blurred, in the same
    format; the bytes come back unchanged when no face is found."""
    from PIL import Image as pil_image

    from datawheel.data.media.normalize import encode_image

    with pil_image.open(io.BytesIO(data)) as opened:
        lossless = opened.format == "PNG"
        image = opened.convert("RGB")
    blurred, count = blur_faces(image, detector)
    if not count:
        return data, 0
    return encode_image(blurred, lossless=lossless), count


def blur_column(
    values: Sequence[bytes | None], *, workers: int | None = None
) -> tuple[list[bytes | None], int, int]:
    """Stored images with faces blurred (None stays None), the number of faces, and the
    number of images that had any; pictures are searched in parallel threads."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    def one(value: bytes | None) -> tuple[bytes | None, int]:
        return (None, 0) if value is None else blur_image_bytes(value)

    count = workers or min(8, os.cpu_count() or 1)
    if count <= 1 or len(values) < 2:
        results = [one(v) for v in values]
    else:
        with ThreadPoolExecutor(count) as pool:
            results = list(pool.map(one, values, chunksize=8))
    faces = sum(n for _, n in results)
    return [v for v, _ in results], faces, sum(1 for _, n in results if n)
