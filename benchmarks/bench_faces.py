"""Face detection for ``privacy.images.faces: blur``: precision and recall on labelled patches.

    OMP_NUM_THREADS=1 python benchmarks/bench_faces.py

Data: scikit-image's ``lfw_subset`` (100 faces from Labeled Faces in the Wild, 100 non-face
patches from the same photos; 25 x 25 grey). Each patch is enlarged to 96 px and set in a
144 px picture (its edges repeated), so a face is about as large in the picture as in a
portrait. datawheel (OpenCV's Haar cascade ``haarcascade_frontalface_alt2``, as
``datawheel.data.media.faces.FaceDetector`` runs it) is measured beside scikit-image's LBP frontal-
face cascade on the same pictures in the same run, one thread each. Then every picture in which
datawheel found a face is blurred as the pipeline blurs it, and both detectors look again (a
detection there is either a face the blur left recognizable or a false alarm on the smooth blob).
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from PIL import Image

from datawheel.data.media.faces import FaceDetector, blur_faces

SIDE, PAD = 96, 24


def pictures() -> tuple[list[Image.Image], np.ndarray]:
    from skimage.data import lfw_subset

    patches = lfw_subset()  # [200, 25, 25] float in [0, 1]: 100 faces, then 100 non-faces
    out = []
    for patch in patches:
        grey = Image.fromarray((patch * 255).astype(np.uint8)).resize((SIDE, SIDE), Image.BICUBIC)
        padded = np.pad(np.asarray(grey), PAD, mode="edge")
        out.append(Image.fromarray(padded).convert("RGB"))
    return out, np.array([True] * 100 + [False] * 100)


class SkimageLBP:
    """The peer: scikit-image's LBP cascade, trained by OpenCV, shipped inside scikit-image."""

    def __init__(self) -> None:
        from skimage.data import lbp_frontal_face_cascade_filename
        from skimage.feature import Cascade

        self.cascade = Cascade(lbp_frontal_face_cascade_filename())

    def detect(self, image: Image.Image) -> list[dict]:
        grey = np.asarray(image.convert("L")) / 255.0
        return self.cascade.detect_multi_scale(
            img=grey, scale_factor=1.1, step_ratio=1, min_size=(24, 24),
            max_size=(image.width, image.height),
        )  # fmt: skip


def measure(name: str, detect, images: list[Image.Image], truth: np.ndarray) -> np.ndarray:
    started = time.perf_counter()
    found = np.array([len(detect(image)) > 0 for image in images])
    ms = (time.perf_counter() - started) * 1000 / len(images)
    tp = int((found & truth).sum())
    fp = int((found & ~truth).sum())
    precision = tp / max(1, tp + fp)
    recall = tp / int(truth.sum())
    f1 = 2 * precision * recall / max(1e-9, precision + recall)
    print(f"{name:<34} precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}  "
          f"{ms:6.2f} ms/picture")  # fmt: skip
    return found


def main() -> None:
    images, truth = pictures()
    ours, peer = FaceDetector(), SkimageLBP()
    print(f"{len(images)} pictures ({truth.sum()} faces), {SIDE} px faces in {SIDE + 2 * PAD} px")
    found = measure("datawheel (OpenCV Haar alt2)", ours.detect, images, truth)
    measure("scikit-image LBP cascade (peer)", peer.detect, images, truth)
    blurred = [blur_faces(image, ours)[0] for image, hit in zip(images, found, strict=True) if hit]
    again_ours = sum(len(ours.detect(b)) > 0 for b in blurred)
    again_peer = sum(len(peer.detect(b)) > 0 for b in blurred)
    print(
        f"after blurring the {len(blurred)} pictures with a face found, pictures with a "
        f"detection: datawheel {again_ours}, scikit-image {again_peer}"
    )


if __name__ == "__main__":
    main()
