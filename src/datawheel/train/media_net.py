"""The fusion network: small CNN encoders for image and audio columns, joined with the tabular
(and text) inputs in one MLP head — ``model.kind`` mlp / multimodal on data with media columns.

No pretrained image weights ship inside an installed dependency here (torchvision's wheels for
torch 2.13 CPU do not import, and their weights download at run time), so each encoder is a
small CNN trained from scratch with the head. Audio becomes a log-mel spectrogram inside the
network (``torch.stft`` and a mel filterbank buffer), so ONNX export carries it too.

A row whose image or clip is missing (null, or rejected by the data stage) uses a learned
*missing embedding* in place of the encoder's output: it still gets a prediction, and
explanations mask a modality by switching it to that embedding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from datawheel.data.media.decode import AUDIO_RATE
from datawheel.train.model import TabularMLP

__all__ = [
    "AUDIO_RATE",
    "FUSION_KIND",
    "AudioEncoder",
    "FusionNet",
    "ImageEncoder",
    "LogMel",
    "mel_filterbank",
]

FUSION_KIND = "fusion"  # the architecture marker in a saved model
N_FFT, HOP, N_MELS = 400, 160, 40  # 25 ms windows every 10 ms, 40 mel bands: speech standard


def mel_filterbank(
    n_fft: int = N_FFT, n_mels: int = N_MELS, rate: int = AUDIO_RATE
) -> torch.Tensor:
    """Triangular mel filters (HTK mel scale, 0 Hz to Nyquist): ``[n_mels, n_fft // 2 + 1]``."""

    def to_mel(hz: float) -> float:
        return 2595.0 * math.log10(1.0 + hz / 700.0)

    mels = torch.linspace(0.0, to_mel(rate / 2), n_mels + 2, dtype=torch.float64)
    hz = 700.0 * (10.0 ** (mels / 2595.0) - 1.0)  # [n_mels + 2] band edges
    bins = torch.linspace(0.0, rate / 2, n_fft // 2 + 1, dtype=torch.float64)  # [F]
    low, centre, high = hz[:-2, None], hz[1:-1, None], hz[2:, None]  # [n_mels, 1] each
    rising = (bins - low) / (centre - low)
    falling = (high - bins) / (high - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0.0).float()  # [n_mels, F]


class LogMel(nn.Module):
    """Waveform float ``[B, samples]`` at 16 kHz → log-mel ``[B, n_mels, frames]``."""

    window: torch.Tensor
    filters: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)
        self.register_buffer("filters", mel_filterbank(), persistent=False)
        # ONNX's exporter has no complex tensors: export sets this for the (deprecated, equal)
        # real-pair form of torch.stft
        self.real_pairs = False

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        options: dict[str, Any] = {"n_fft": N_FFT, "hop_length": HOP, "window": self.window,
                                   "center": True}  # fmt: skip
        if self.real_pairs:
            pairs = torch.stft(wave.float(), return_complex=False, **options)  # [B, F, frames, 2]
        else:
            pairs = torch.view_as_real(torch.stft(wave.float(), return_complex=True, **options))
        power = pairs.pow(2).sum(-1)  # [B, F, frames]
        mel = torch.matmul(self.filters, power)  # [B, n_mels, frames]
        return torch.log(mel + 1e-3)  # ~65 dB below a loud tone: the floor of silence


def _conv_stack(widths: Sequence[int], channels: int) -> nn.Sequential:
    """3×3 conv → ReLU → 2×2 max-pool per width, then global average pooling: ``[B, C, H, W]``
    → ``[B, widths[-1]]``. No BatchNorm: a row predicted alone equals the same row in a batch."""
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        channels = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())


class ImageEncoder(nn.Module):
    """RGB pixels in [0, 1], ``[B, 3, S, S]`` → an embedding ``[B, dim]``: three conv blocks
    (16, 32, 64 channels, each halving the side), global average pooling, a linear layer."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.features = _conv_stack((16, 32, 64), 3)
        self.out = nn.Linear(64, dim)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = (pixels - 0.5) / 0.25  # about zero mean, unit spread
        return torch.relu(self.out(self.features(x)))  # [B, dim]


class AudioEncoder(nn.Module):
    """A mono 16 kHz waveform ``[B, samples]`` → log-mel ``[B, 1, 40, frames]`` → a CNN of
    8, 16, 32 channels (a spectrogram is larger than an image, its patterns simpler)
    → ``[B, dim]``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.logmel = LogMel()
        self.features = _conv_stack((8, 16, 32), 1)
        self.out = nn.Linear(32 + 2 * N_MELS, dim)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        logmel = self.logmel(wave)  # [B, n_mels, frames]
        # per clip: each band's mean and spread over time (what MFCC statistics summarize),
        # and the spectrogram standardized for the CNN — loudness-invariant, row-independent
        mean = logmel.mean(dim=2)  # [B, n_mels]
        spread = logmel.std(dim=2)  # [B, n_mels]
        centred = logmel - mean.unsqueeze(2)
        scaled = centred / (centred.pow(2).mean(dim=(1, 2), keepdim=True).sqrt() + 1e-3)
        pattern = self.features(scaled.unsqueeze(1))  # [B, 32]
        stats = torch.cat([(mean - mean.mean(dim=1, keepdim=True)) / 4.0, spread / 4.0], dim=1)
        return torch.relu(self.out(torch.cat([pattern, stats], dim=1)))  # [B, dim]


class FusionNet(nn.Module):
    """Tabular and text inputs ⊕ one embedding per image and audio column → TabularMLP.

    ``forward(numeric, categorical, *media)``: numeric ``[B, n_numeric]`` (standardized
    columns, indicators, text blocks), categorical ``[B, n_cat]``, then per image column
    ``pixels [B, 3, S, S]`` and ``present [B]`` (bool), then per audio column ``wave
    [B, samples]`` and ``present [B]``. An absent item takes its column's learned missing
    embedding (``torch.where`` keeps both in the graph, so DDP sees every parameter used).
    """

    kind = FUSION_KIND

    def __init__(
        self,
        n_numeric: int,
        cardinalities: Sequence[int],
        n_classes: int,
        *,
        n_images: int,
        n_audio: int,
        dim: int = 64,
        hidden: Sequence[int] = (128, 64),
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if n_images + n_audio < 1:
            raise ValueError("a fusion network needs at least one image or audio column")
        self.n_numeric, self.n_images, self.n_audio, self.dim = n_numeric, n_images, n_audio, dim
        self.n_classes = n_classes
        self.image_encoders = nn.ModuleList(ImageEncoder(dim) for _ in range(n_images))
        self.audio_encoders = nn.ModuleList(AudioEncoder(dim) for _ in range(n_audio))
        self.missing = nn.Parameter(torch.zeros(n_images + n_audio, dim))  # [n_media, dim]
        self.head = TabularMLP(
            n_numeric + (n_images + n_audio) * dim, cardinalities, n_classes,
            hidden=hidden, dropout=dropout,
        )  # fmt: skip

    @property
    def cardinalities(self) -> list[int]:
        return self.head.cardinalities

    @property
    def n_media(self) -> int:
        return self.n_images + self.n_audio

    def architecture(self) -> dict[str, Any]:
        head = self.head.architecture()
        head["n_numeric"] = self.n_numeric
        return {**head, "kind": FUSION_KIND, "n_images": self.n_images,
                "n_audio": self.n_audio, "dim": self.dim}  # fmt: skip

    @classmethod
    def from_architecture(cls, spec: dict[str, Any]) -> FusionNet:
        return cls(
            int(spec["n_numeric"]),
            [int(c) for c in spec["cardinalities"]],
            int(spec["n_classes"]),
            n_images=int(spec["n_images"]),
            n_audio=int(spec["n_audio"]),
            dim=int(spec["dim"]),
            hidden=[int(h) for h in spec["hidden"]],
            dropout=float(spec["dropout"]),
        )

    def embed(self, media: Sequence[torch.Tensor]) -> torch.Tensor:
        """The media inputs (pairs of data and ``present``) → ``[B, n_media * dim]``."""
        encoders = [*self.image_encoders, *self.audio_encoders]
        # serving: encode only the items present (a batch of table-only rows skips the CNNs);
        # training and export run every row through, so DDP and the ONNX graph see one path
        sparse = not self.training and not torch.jit.is_tracing()
        parts = []
        for j, encoder in enumerate(encoders):
            data, present = media[2 * j], media[2 * j + 1]
            keep = present.reshape(-1, 1).bool()  # [B, 1]
            missing = self.missing[j]
            if sparse:
                encoded = missing.expand(len(data), -1).clone()  # [B, dim]
                rows = torch.nonzero(present.reshape(-1)).reshape(-1)
                if len(rows):
                    encoded[rows] = encoder(data[rows]).to(encoded.dtype)
                parts.append(encoded)
            else:
                encoded = encoder(data)  # [B, dim]
                parts.append(torch.where(keep, encoded, missing.to(encoded.dtype)))
        return torch.cat(parts, dim=1)  # [B, n_media * dim]

    def forward(
        self, numeric: torch.Tensor, categorical: torch.Tensor, *media: torch.Tensor
    ) -> torch.Tensor:
        embedded = self.embed(media).to(numeric.dtype)  # [B, n_media * dim]
        return self.head(torch.cat([numeric, embedded], dim=1), categorical)  # [B, n_classes]
