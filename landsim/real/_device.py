"""Device and seeding helpers shared by the torch modules."""

from __future__ import annotations

from typing import Any

import torch

from ..seeding import check_seed as _check_seed

__all__ = ["DEVICES", "resolve_device", "torch_generator", "check_seed"]

#: Device kinds accepted by every ``device`` argument.
DEVICES = ("cpu", "cuda")


def resolve_device(device: Any = "cpu") -> torch.device:
    """A validated :class:`torch.device` from ``"cpu"``, ``"cuda"``, ``"cuda:<i>"``.

    Raises ``ValueError`` for any other value, and for CUDA when
    ``torch.cuda.is_available()`` is False (no silent fallback to the CPU).
    """
    if isinstance(device, torch.device):
        dev = device
    elif isinstance(device, str):
        try:
            dev = torch.device(device)
        except RuntimeError:
            raise ValueError(f"device must be one of {DEVICES} (or 'cuda:<index>'), "
                             f"got {device!r}") from None
    else:
        raise ValueError(f"device must be one of {DEVICES} (or 'cuda:<index>'), "
                         f"got {device!r}")
    if dev.type not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES} (or 'cuda:<index>'), got {device!r}")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} was requested but torch.cuda.is_available() "
                             "is False on this machine; use device='cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device={device!r}: CUDA device index must be in "
                             f"[0, {torch.cuda.device_count() - 1}]")
    return dev


def check_seed(seed: Any) -> int:
    """A seed as a Python int in [0, 2^63 - 1] (numpy integers accepted): the seed rule
    :func:`landsim.seeding.check_seed`."""
    return _check_seed(seed)


def torch_generator(seed: Any) -> torch.Generator:
    """A CPU :class:`torch.Generator` seeded with ``seed`` (a non-negative integer).

    CPU generators are used for every random draw (shuffles, directions, t samples) so
    that results do not depend on the device.
    """
    g = torch.Generator(device="cpu")
    g.manual_seed(check_seed(seed))
    return g
