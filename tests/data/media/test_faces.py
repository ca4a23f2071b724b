"""Face blurring: a real face (scikit-image's astronaut photo) is found, then unrecognizable."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from datawheel.data.media.faces import blur_faces, blur_image_bytes, detect_faces
from datawheel.data.media.normalize import normalize_image

from .samples import encode, picture

skimage_data = pytest.importorskip("skimage.data", reason="the bench-media extra")


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return Image.fromarray(skimage_data.astronaut())  # NASA, public domain; one frontal face


def test_detect_faces_when_portrait_then_one_box_on_the_face(astronaut):
    boxes = detect_faces(astronaut)
    assert len(boxes) == 1
    x, y, w, h = boxes[0]
    assert 150 < x + w / 2 < 300 and 60 < y + h / 2 < 180  # her face, upper middle


def test_detect_faces_when_no_face_then_none(astronaut):
    assert detect_faces(picture(1, (256, 256))) == []
    assert detect_faces(Image.fromarray(skimage_data.coffee())) == []


def test_blur_faces_when_face_then_detector_no_longer_finds_it_and_rest_unchanged(astronaut):
    blurred, count = blur_faces(astronaut)
    assert count == 1 and detect_faces(blurred) == []
    before, after = np.asarray(astronaut).astype(int), np.asarray(blurred).astype(int)
    x, y, w, h = detect_faces(astronaut)[0]
    assert np.abs(before[y : y + h, x : x + w] - after[y : y + h, x : x + w]).mean() > 10
    assert np.array_equal(before[400:], after[400:])  # far from the face: untouched


def test_blur_image_bytes_when_stored_png_then_png_back_and_no_face(astronaut):
    stored, _ = normalize_image(encode(astronaut, "PNG"))
    out, count = blur_image_bytes(stored.data)
    assert count == 1 and out[:4] == b"\x89PNG"
    with Image.open(__import__("io").BytesIO(out)) as image:
        assert detect_faces(image.convert("RGB")) == []


def test_blur_image_bytes_when_no_face_then_bytes_unchanged():
    stored, _ = normalize_image(encode(picture(2), "JPEG"))
    assert blur_image_bytes(stored.data) == (stored.data, 0)


def test_anonymizer_row_when_faces_blur_then_served_image_blurred_like_training(
    astronaut, secret_key
):
    import base64

    from datawheel.config import PrivacyConfig
    from datawheel.data.media.decode import MediaError, load_image, media_bytes
    from datawheel.privacy.anonymize import Anonymizer

    privacy = PrivacyConfig(images={"faces": "blur"})
    anonymizer = Anonymizer(privacy, secret_key, image_columns=["photo"])
    sent = encode(astronaut, "JPEG", metadata=True)
    as_text = anonymizer.row({"photo": base64.b64encode(sent).decode(), "x": 1})
    assert isinstance(as_text["photo"], str) and as_text["x"] == 1
    assert detect_faces(load_image(media_bytes(as_text["photo"], None))) == []
    as_bytes = anonymizer.row({"photo": sent})["photo"]
    assert isinstance(as_bytes, bytes) and b"Exif" not in as_bytes
    assert anonymizer.row({"photo": None}) == {"photo": None}
    with pytest.raises(MediaError) as caught:
        anonymizer.row({"photo": "bm90IGFuIGltYWdl"})
    assert caught.value.where == "photo" and caught.value.reason == "corrupt"
    untouched = Anonymizer(PrivacyConfig(), secret_key, image_columns=["photo"])
    assert untouched.row({"photo": sent})["photo"] == sent  # faces: none
