"""Augmentation: seeded, size-keeping for images, and each change does what it says."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from datawheel.config import AudioAugmentConfig, ImageAugmentConfig
from datawheel.data.media.augment import AudioAugment, ImageAugment, sample_rng

from .samples import picture

OFF = {"crop_scale": (1.0, 1.0), "rotation": 0.0, "scale": (1.0, 1.0), "flip": 0.0,
       "brightness": 0.0, "contrast": 0.0, "saturation": 0.0, "hue": 0.0}  # fmt: skip


def _image_config(**on) -> ImageAugmentConfig:
    return ImageAugmentConfig(enabled=True, **{**OFF, **on})


def test_image_augment_when_same_seed_then_same_image_and_other_seed_differs():
    augment, image = ImageAugment(ImageAugmentConfig(enabled=True)), picture(1, (64, 48))
    first = np.asarray(augment(image, sample_rng(0, 1, 5)))
    assert np.array_equal(first, np.asarray(augment(image, sample_rng(0, 1, 5))))
    assert not np.array_equal(first, np.asarray(augment(image, sample_rng(0, 2, 5))))
    assert augment(image, sample_rng(0, 1, 5)).size == (64, 48)


def test_image_augment_when_disabled_then_returns_the_image():
    image = picture(2)
    assert ImageAugment(ImageAugmentConfig())(image, sample_rng(0, 0, 0)) is image


def test_image_augment_when_only_flip_then_mirrors():
    image = picture(3)
    out = ImageAugment(_image_config(flip=1.0))(image, np.random.default_rng(0))
    assert np.array_equal(np.asarray(out), np.asarray(image)[:, ::-1])


def test_image_augment_when_only_crop_then_zooms_into_a_part():
    image = Image.new("RGB", (100, 100), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 50, 100))  # left half white
    out = ImageAugment(_image_config(crop_scale=(0.1, 0.1)))(image, np.random.default_rng(1))
    pixels = np.asarray(out)
    # a tenth of the area, blown up: mostly one colour, unlike the half-and-half input
    assert max((pixels > 127).mean(), (pixels <= 127).mean()) > 0.7 and out.size == (100, 100)


def test_image_augment_when_rotating_then_corners_filled_with_the_mean_colour():
    image = Image.new("RGB", (64, 64), (200, 40, 40))
    image.paste((40, 40, 200), (0, 0, 64, 32))
    out = ImageAugment(_image_config(rotation=45.0))(image, np.random.default_rng(3))
    corner = np.asarray(out)[0, 0]
    assert np.abs(corner.astype(int) - [120, 40, 120]).max() <= 2  # mean of the two halves


def test_image_augment_when_jitter_then_colours_move_within_bounds():
    image = Image.new("RGB", (16, 16), (100, 100, 100))
    out = ImageAugment(_image_config(brightness=0.5))(image, np.random.default_rng(4))
    value = np.asarray(out)[0, 0, 0]
    assert value != 100 and 50 <= value <= 150


def _sine(seconds: float = 1.0, rate: int = 16_000) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * 220 * np.arange(int(seconds * rate)) / rate)).astype(
        np.float32
    )


def _silent_at_one_end(y: np.ndarray) -> bool:
    return bool((y[:100] == 0).all()) != bool((y[-100:] == 0).all())


AUDIO_OFF = {"shift": 0.0, "gain_db": 0.0, "noise": 0.0, "speed": (1.0, 1.0)}


@pytest.mark.parametrize(
    ("on", "check"),
    [
        # louder or quieter by up to 6 dB: the peak moves, the shape stays
        ({"gain_db": 6.0}, lambda x, y: 0.25 <= np.abs(y).max() <= 1.0 and np.abs(y).max() != 0.5),
        # faster: shorter by the speed factor
        ({"speed": (1.25, 1.25)}, lambda x, y: abs(len(y) - len(x) / 1.25) <= 2),
        # shifted: same length, silence at one end
        ({"shift": 0.2}, lambda x, y: len(y) == len(x) and _silent_at_one_end(y)),
        # noise at 20 dB SNR: residual power a hundredth of the signal's
        ({"noise": 1.0, "noise_snr_db": (20.0, 20.0)},
         lambda x, y: 0.005 < np.mean((y - x) ** 2) / np.mean(x**2) < 0.02),
    ],
)  # fmt: skip
def test_audio_augment_when_one_change_on_then_it_does_that(on, check):
    x = _sine()
    y = AudioAugment(AudioAugmentConfig(enabled=True, **{**AUDIO_OFF, **on}))(
        x, np.random.default_rng(7)
    )
    assert y.dtype == np.float32 and check(x, y)


def test_audio_augment_when_same_seed_then_same_samples():
    augment, x = AudioAugment(AudioAugmentConfig(enabled=True, noise=1.0)), _sine()
    assert np.array_equal(augment(x, sample_rng(1, 0, 3)), augment(x, sample_rng(1, 0, 3)))
    assert not np.array_equal(augment(x, sample_rng(1, 0, 3)), augment(x, sample_rng(1, 0, 4)))
    assert AudioAugment(AudioAugmentConfig())(x, sample_rng(1, 0, 3)) is x
