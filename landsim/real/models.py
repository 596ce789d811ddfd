"""Small networks for the real-network experiments, built by name from a seed.

:class:`MLP` (fully connected, optional batch norm) and :class:`SmallCNN` (two 3 x 3
convolutions with max pooling, for 8 x 8 or 28 x 28 images) are registered under
``"mlp"`` and ``"cnn"`` (also as the model plug-ins :data:`MLP_PLUGIN` and :data:`CNN_PLUGIN`
of :mod:`landsim.real.plugins`); :class:`ModelSpec` holds a model's settings (validated, and
stored in checkpoints as a plain dict); :func:`build_model` makes a freshly initialised
network from a name and a seed, or accepts any ``torch.nn.Module`` the user made.

Initialisation uses PyTorch's default initialisers inside a forked RNG seeded with
``seed``: the same seed gives the same weights, and the global torch RNG is untouched.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from .._checks import choice, int_at_least
from ._device import check_seed

__all__ = ["MODELS", "ACTIVATIONS", "MLP", "SmallCNN", "ModelSpec", "build_model",
           "MLP_PLUGIN", "CNN_PLUGIN"]

#: Registered model names.
MODELS = ("mlp", "cnn")
#: Hidden-layer nonlinearities (tanh makes the loss smooth: use it for Hessian checks).
ACTIVATIONS = ("relu", "tanh")


def _activation(name: str) -> nn.Module:
    return nn.ReLU() if name == "relu" else nn.Tanh()


class MLP(nn.Sequential):
    """Fully connected network: flatten, ``depth`` hidden layers of ``width``, linear out.

    Each hidden layer is Linear -> [BatchNorm1d] -> activation.

    Parameters
    ----------
    in_features : int
        Input values per sample (inputs of any shape (N, ...) are flattened).
    n_classes : int
        Output logits, >= 2.
    width : int
        Hidden units per layer, >= 1.
    depth : int
        Number of hidden layers, >= 0 (0 gives multinomial logistic regression).
    batchnorm : bool
    activation : {"relu", "tanh"}

    Shapes: input (N, *) with prod(*) = in_features, output (N, n_classes).
    """

    def __init__(self, in_features: int, n_classes: int, width: int = 32, depth: int = 2,
                 batchnorm: bool = False, activation: str = "relu") -> None:
        in_features = int_at_least("in_features", in_features, 1)
        n_classes = int_at_least("n_classes", n_classes, 2)
        width = int_at_least("width", width, 1)
        depth = int_at_least("depth", depth, 0)
        activation = choice("activation", activation, ACTIVATIONS)
        layers: list[nn.Module] = [nn.Flatten()]
        fan_in = in_features
        for _ in range(depth):
            layers.append(nn.Linear(fan_in, width))
            if batchnorm:
                layers.append(nn.BatchNorm1d(width))
            layers.append(_activation(activation))
            fan_in = width
        layers.append(nn.Linear(fan_in, n_classes))
        super().__init__(*layers)


class SmallCNN(nn.Module):
    """Two conv blocks and a linear classifier, for small square images.

    Block i: Conv2d(3 x 3, padding 1) -> [BatchNorm2d] -> activation -> MaxPool2d(2).
    An 8 x 8 input becomes 2 x 2, a 28 x 28 one 7 x 7, before the linear layer.

    Parameters
    ----------
    in_channels : int
    image_size : int
        Height = width of the input, >= 4 (8 for digits, 28 for MNIST).
    n_classes : int
    channels : tuple of two ints
        Output channels of the two convolutions.
    batchnorm : bool
    activation : {"relu", "tanh"}

    Shapes: input (N, in_channels, image_size, image_size), output (N, n_classes).
    """

    def __init__(self, in_channels: int, image_size: int, n_classes: int,
                 channels: tuple[int, int] = (8, 16), batchnorm: bool = False,
                 activation: str = "relu") -> None:
        super().__init__()
        in_channels = int_at_least("in_channels", in_channels, 1)
        image_size = int_at_least("image_size", image_size, 4)
        n_classes = int_at_least("n_classes", n_classes, 2)
        activation = choice("activation", activation, ACTIVATIONS)
        c1, c2 = _channels(channels)
        blocks: list[nn.Module] = []
        for cin, cout in ((in_channels, c1), (c1, c2)):
            blocks.append(nn.Conv2d(cin, cout, 3, padding=1))
            if batchnorm:
                blocks.append(nn.BatchNorm2d(cout))
            blocks += [_activation(activation), nn.MaxPool2d(2)]
        self.features = nn.Sequential(*blocks)
        side = image_size // 2 // 2
        self.classifier = nn.Linear(c2 * side * side, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, n_classes) of images (N, C, H, W)."""
        return self.classifier(self.features(x).flatten(1))


def _channels(channels: Any) -> tuple[int, int]:
    if isinstance(channels, (int,)) and not isinstance(channels, bool):
        channels = (channels, 2 * channels)
    if not isinstance(channels, (tuple, list)) or len(channels) != 2:
        raise ValueError(f"channels must be an int c (meaning (c, 2c)) or a pair of ints, "
                         f"got {channels!r}")
    return (int_at_least("channels[0]", channels[0], 1),
            int_at_least("channels[1]", channels[1], 1))


@dataclass(frozen=True)
class ModelSpec:
    """Settings of a registered network (see :data:`MODELS`).

    Attributes
    ----------
    name : {"mlp", "cnn"}
    width : int
        MLP hidden units per layer, >= 1.
    depth : int
        MLP hidden layers, >= 0.
    channels : tuple of two ints
        CNN channels of the two convolutions (an int c means (c, 2c)).
    batchnorm : bool
        Batch norm after every hidden linear / conv layer.
    activation : {"relu", "tanh"}
    """

    name: str = "mlp"
    width: int = 32  # MLP hidden units
    depth: int = 2  # MLP hidden layers
    channels: tuple[int, int] = (8, 16)  # CNN conv channels
    batchnorm: bool = False
    activation: str = "relu"

    def __post_init__(self) -> None:
        choice("name", self.name, MODELS)
        int_at_least("width", self.width, 1)
        int_at_least("depth", self.depth, 0)
        object.__setattr__(self, "channels", _channels(self.channels))
        if not isinstance(self.batchnorm, bool):
            raise ValueError(f"batchnorm must be a bool, got {self.batchnorm!r}")
        choice("activation", self.activation, ACTIVATIONS)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-able), accepted back by ``ModelSpec(**d)``."""
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    def build(self, input_shape: tuple[int, ...], n_classes: int, seed: int = 0) -> nn.Module:
        """A freshly initialised network for inputs of ``input_shape`` (one sample).

        The MLP accepts any input shape (it flattens); the CNN needs (C, H, H).
        """
        seed = check_seed(seed)
        shape = tuple(int(s) for s in input_shape)
        if not shape or min(shape) < 1:
            raise ValueError(f"input_shape must be a non-empty tuple of positive sizes, "
                             f"got {input_shape!r}")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if self.name == "mlp":
                return MLP(math.prod(shape), n_classes, self.width, self.depth, self.batchnorm,
                           self.activation)
            if len(shape) != 3 or shape[1] != shape[2]:
                raise ValueError(f"the cnn needs input_shape (C, H, H) of square images, got "
                                 f"{shape}")
            return SmallCNN(shape[0], shape[1], n_classes, self.channels, self.batchnorm,
                            self.activation)


def build_model(name: str | nn.Module = "mlp", *, input_shape: tuple[int, ...] = (64,),
                n_classes: int = 10, seed: int = 0, **kwargs: Any) -> nn.Module:
    """A network by registered name, freshly initialised from ``seed``.

    Parameters
    ----------
    name : {"mlp", "cnn"} or torch.nn.Module
        A registered name, or a user module, which is returned unchanged (its parameters
        are used as they are; ``kwargs`` must then be empty).
    input_shape : tuple of int
        Shape of one input sample, e.g. ``dataset.input_shape``.
    n_classes : int
    seed : int
        Initialisation seed.
    **kwargs
        :class:`ModelSpec` fields: width, depth, channels, batchnorm, activation.

    Returns
    -------
    torch.nn.Module
        On the CPU, float32, in training mode.
    """
    if isinstance(name, nn.Module):
        if kwargs:
            raise ValueError(f"settings {sorted(kwargs)} apply to registered models only, not "
                             f"to a given {type(name).__name__}")
        return name
    return ModelSpec(name, **kwargs).build(input_shape, n_classes, seed)


# ------------------------------------------------------------------------ plug-ins
@dataclass(frozen=True)
class MLPConfig:
    """Settings of the ``mlp`` model plug-in (see :class:`ModelSpec`)."""

    width: int = 32  # hidden units per layer, >= 1
    depth: int = 2  # hidden layers, >= 0
    batchnorm: bool = False  # BatchNorm1d after every hidden linear layer
    activation: str = "relu"  # relu | tanh

    def __post_init__(self) -> None:
        ModelSpec("mlp", **asdict(self))


@dataclass(frozen=True)
class CNNConfig:
    """Settings of the ``cnn`` model plug-in (see :class:`ModelSpec`)."""

    channels: tuple[int, int] = (8, 16)  # output channels of the two convolutions
    batchnorm: bool = False  # BatchNorm2d after every convolution
    activation: str = "relu"  # relu | tanh

    def __post_init__(self) -> None:
        ModelSpec("cnn", **asdict(self))


def _build_builtin(name: str):
    def build(config: Any, input_shape: tuple[int, ...], n_classes: int,
              seed: int) -> nn.Module:
        return ModelSpec(name, **asdict(config)).build(input_shape, n_classes, seed)

    return build


def _plugin(name: str, config: type, summary: str):
    from .plugins import Plugin

    return Plugin(name, config, _build_builtin(name), summary)


MLP_PLUGIN = _plugin("mlp", MLPConfig, "fully connected network (MLP), optional batch norm; "
                     "any input shape (flattened)")
CNN_PLUGIN = _plugin("cnn", CNNConfig, "two 3 x 3 conv blocks with max pooling and a linear "
                     "classifier, for square images (C, H, H)")
