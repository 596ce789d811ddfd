"""An example landsim plug-in package: a model and a dataset for the real-network claims.

``RESNET_BN`` (model ``resnet_bn``)
    A small residual CNN with batch norm for (C, H, W) images (3 x 32 x 32, 1 x H x H, ...).
``SYNTHETIC_IMAGES`` (dataset ``synthetic_images``)
    Seeded synthetic image classification: one smooth random prototype per class plus
    noise.

Both are declared in this package's pyproject.toml under the entry-point groups
``landsim.models`` and ``landsim.datasets``; see README.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from landsim.real.data import Dataset
from landsim.real.plugins import Plugin

__all__ = ["ResNetConfig", "ResNetBN", "RESNET_BN", "SyntheticImagesConfig",
           "synthetic_images", "SYNTHETIC_IMAGES"]


def _at_least(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


# ------------------------------------------------------------------------ the model
@dataclass(frozen=True)
class ResNetConfig:
    channels: int = 16  # channels of the stem and of every residual block, >= 1
    blocks: int = 2  # residual blocks, >= 0

    def __post_init__(self) -> None:
        _at_least("channels", self.channels, 1)
        _at_least("blocks", self.blocks, 0)


class _Block(nn.Module):
    """conv-BN-ReLU-conv-BN plus the identity, then ReLU."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.body(x))


class ResNetBN(nn.Module):
    """Stem (conv 3 x 3, BN, ReLU), ``blocks`` residual blocks, global average pooling and
    a linear classifier. Input (N, C, H, W), output (N, n_classes)."""

    def __init__(self, in_channels: int, n_classes: int, channels: int = 16,
                 blocks: int = 2) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(channels), nn.ReLU())
        self.blocks = nn.Sequential(*(_Block(channels) for _ in range(blocks)))
        self.head = nn.Linear(channels, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)).mean(dim=(2, 3)))


def build_resnet(config: ResNetConfig, input_shape: tuple[int, ...], n_classes: int,
                 seed: int) -> nn.Module:
    # landsim seeds torch's RNG with `seed` around this call, so default initialisers are
    # reproducible; `seed` is here for plug-ins that draw their own numbers
    if len(input_shape) != 3:
        raise ValueError(f"resnet_bn needs images (C, H, W), got input shape {input_shape}")
    return ResNetBN(input_shape[0], n_classes, config.channels, config.blocks)


RESNET_BN = Plugin("resnet_bn", ResNetConfig, build_resnet,
                   "small residual CNN with batch norm for (C, H, W) images")


# ------------------------------------------------------------------------ the dataset
@dataclass(frozen=True)
class SyntheticImagesConfig:
    n_train: int = 1000  # training images, >= 1
    n_test: int = 500  # test images, >= 1
    n_classes: int = 4  # classes, >= 2
    size: int = 32  # height = width, >= 4
    channels: int = 3  # colour channels, >= 1
    noise: float = 1.0  # standard deviation of the pixel noise, >= 0

    def __post_init__(self) -> None:
        _at_least("n_train", self.n_train, 1)
        _at_least("n_test", self.n_test, 1)
        _at_least("n_classes", self.n_classes, 2)
        _at_least("size", self.size, 4)
        _at_least("channels", self.channels, 1)
        if isinstance(self.noise, bool) or not isinstance(self.noise, (int, float)) \
                or not 0 <= self.noise < float("inf"):
            raise ValueError(f"noise must be a finite number >= 0, got {self.noise!r}")


def synthetic_images(config: SyntheticImagesConfig, seed: int) -> Dataset:
    """Class k is a smooth random prototype image (4 x 4 random values upsampled to size x
    size, per channel) plus Gaussian pixel noise; labels are uniform. Same seed, same data."""
    rng = np.random.default_rng(seed)
    c, s, k = config.channels, config.size, config.n_classes
    coarse = rng.standard_normal((k, c, 4, 4))
    reps = -(-s // 4)
    protos = np.kron(coarse, np.ones((1, 1, reps, reps)))[:, :, :s, :s]
    n = config.n_train + config.n_test
    y = rng.integers(0, k, n)
    x = protos[y] + config.noise * rng.standard_normal((n, c, s, s))
    xt = torch.as_tensor(x, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.int64)
    m = config.n_train
    return Dataset(xt[:m], yt[:m], xt[m:], yt[m:], k,
                   f"synthetic_images(size={s}, channels={c}, classes={k}, seed={seed})")


SYNTHETIC_IMAGES = Plugin("synthetic_images", SyntheticImagesConfig, synthetic_images,
                          "seeded synthetic image classification (smooth class prototypes "
                          "plus noise)")
