"""On-the-fly augmentation of training images and clips (``clean.augment.images`` / ``.audio``).

Training calls these per sample, per epoch, on the training split only; evaluation and serving
never do. Each call draws from the ``numpy.random.Generator`` it is given, so a run is
reproducible: ``sample_rng(seed, epoch, row)`` gives every (epoch, row) its own stream.

Images use Pillow and numpy, not torchvision.transforms.v2: torchvision's PyPI wheels are CUDA
builds whose ``_C.so`` needs ``libc10_cuda.so``, which the CPU build of torch datawheel pins does
not have ("operator torchvision::nms does not exist" on import). The sampling follows v2's
RandomResizedCrop, RandomRotation, RandomAffine(scale), RandomHorizontalFlip and ColorJitter.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from datawheel.config import AudioAugmentConfig, ImageAugmentConfig
from datawheel.data.media.decode import AUDIO_RATE

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["AudioAugment", "ImageAugment", "sample_rng"]


def sample_rng(seed: int, epoch: int, row: int) -> np.random.Generator:
    """The random stream of one training sample in one epoch (independent of batch order)."""
    return np.random.default_rng([seed, epoch, row])


class ImageAugment:
    """Random resized crop → zoom → rotation → mirror → colour jitter; same size out as in.

    ``ImageAugment(config)(image, rng)`` returns a new RGB image; a disabled config returns the
    image unchanged.
    """

    def __init__(self, config: ImageAugmentConfig | None = None):
        self.config = config or ImageAugmentConfig(enabled=True)

    def __call__(self, image: Image, rng: np.random.Generator) -> Image:
        if not self.config.enabled:
            return image
        image = image.convert("RGB")
        image = self._crop(image, rng)
        image = self._zoom_rotate(image, rng)
        if rng.random() < self.config.flip:
            from PIL import Image as pil_image

            image = image.transpose(pil_image.Transpose.FLIP_LEFT_RIGHT)
        return self._jitter(image, rng)

    def _crop(self, image: Image, rng: np.random.Generator) -> Image:
        """torchvision's RandomResizedCrop: area share and log-uniform aspect ratio, ten tries,
        then the centre crop at the nearest allowed ratio; resized back to the input size."""
        from PIL import Image as pil_image

        width, height = image.size
        area = width * height
        (lo, hi), (rlo, rhi) = self.config.crop_scale, self.config.crop_ratio
        if (lo, hi) == (1.0, 1.0):
            return image
        for _ in range(10):
            target = area * rng.uniform(lo, hi)
            ratio = math.exp(rng.uniform(math.log(rlo), math.log(rhi)))
            w = round(math.sqrt(target * ratio))
            h = round(math.sqrt(target / ratio))
            if 0 < w <= width and 0 < h <= height:
                left = int(rng.integers(0, width - w + 1))
                top = int(rng.integers(0, height - h + 1))
                break
        else:
            ratio = width / height
            w, h = width, height
            if ratio < rlo:
                h = round(width / rlo)
            elif ratio > rhi:
                w = round(height * rhi)
            left, top = (width - w) // 2, (height - h) // 2
        box = (left, top, left + w, top + h)
        return image.resize((width, height), pil_image.Resampling.BILINEAR, box=box)

    def _zoom_rotate(self, image: Image, rng: np.random.Generator) -> Image:
        """One affine warp about the centre: zoom by a factor in ``scale``, turn by up to
        ``rotation`` degrees; uncovered corners are filled with the picture's mean colour."""
        from PIL import Image as pil_image

        zoom = rng.uniform(*self.config.scale)
        angle = rng.uniform(-self.config.rotation, self.config.rotation)
        if zoom == 1.0 and angle == 0.0:
            return image
        cx, cy = image.width / 2, image.height / 2
        a = math.radians(angle)
        # inverse map (output -> input): rotate by -angle, shrink by 1/zoom, about the centre
        cos, sin = math.cos(a) / zoom, math.sin(a) / zoom
        matrix = (cos, sin, cx - cos * cx - sin * cy, -sin, cos, cy + sin * cx - cos * cy)
        fill = tuple(int(v) for v in np.asarray(image).reshape(-1, 3).mean(axis=0))
        return image.transform(
            image.size, pil_image.Transform.AFFINE, matrix, pil_image.Resampling.BILINEAR,
            fillcolor=fill,
        )  # fmt: skip

    def _jitter(self, image: Image, rng: np.random.Generator) -> Image:
        """ColorJitter: brightness, contrast, saturation and hue, in a random order."""
        from PIL import ImageEnhance

        c = self.config
        steps = [
            (c.brightness, ImageEnhance.Brightness),
            (c.contrast, ImageEnhance.Contrast),
            (c.saturation, ImageEnhance.Color),
            (c.hue, None),
        ]
        for index in rng.permutation(len(steps)):
            strength, enhancer = steps[int(index)]
            if strength <= 0:
                continue
            if enhancer is None:
                image = _shift_hue(image, rng.uniform(-strength, strength))
            else:
                image = enhancer(image).enhance(rng.uniform(1 - strength, 1 + strength))
        return image


def _shift_hue(image: Image, turns: float) -> Image:
    """Rotate every pixel's hue by ``turns`` of the colour wheel (HSV, as torchvision does)."""
    from PIL import Image as pil_image

    hsv = np.asarray(image.convert("HSV")).copy()  # [h, w, 3] uint8
    hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + round(turns * 255)) % 256).astype(np.uint8)
    return pil_image.fromarray(hsv, "HSV").convert("RGB")


class AudioAugment:
    """Speed → time shift → gain → noise, on float32 mono samples at ``rate``.

    ``AudioAugment(config)(samples, rng)`` returns new float32 samples in [-1, 1]; a speed
    change alters the length (0.9x speed: 11 % longer). A disabled config returns them as given.
    """

    def __init__(self, config: AudioAugmentConfig | None = None, *, rate: int = AUDIO_RATE):
        self.config = config or AudioAugmentConfig(enabled=True)
        self.rate = rate

    def __call__(self, samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if not self.config.enabled or samples.size == 0:
            return samples
        c = self.config
        out = np.asarray(samples, dtype=np.float32)
        speed = rng.uniform(*c.speed)
        if abs(speed - 1.0) > 1e-3:
            import soxr

            # played `speed` times faster: as if recorded at rate * speed
            out = soxr.resample(out, self.rate * speed, self.rate).astype(np.float32)
        shift = round(rng.uniform(-c.shift, c.shift) * self.rate)
        if shift:
            out = _shifted(out, shift)
        out = out * np.float32(10 ** (rng.uniform(-c.gain_db, c.gain_db) / 20))
        if c.noise > 0 and rng.random() < c.noise:
            power = float(np.mean(out.astype(np.float64) ** 2))
            if power > 0:
                snr = rng.uniform(*c.noise_snr_db)
                sigma = math.sqrt(power / 10 ** (snr / 10))
                out = out + rng.normal(0.0, sigma, size=out.shape).astype(np.float32)
        return np.clip(out, -1.0, 1.0).astype(np.float32)


def _shifted(samples: np.ndarray, shift: int) -> np.ndarray:
    """Delay (shift > 0) or advance the clip, filling with silence; the length is kept."""
    out = np.zeros_like(samples)
    if shift > 0:
        out[shift:] = samples[: samples.size - shift]
    else:
        out[: samples.size + shift] = samples[-shift:]
    return out
