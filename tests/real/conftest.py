"""Shared fixtures for the landsim.real tests: tiny data and networks, one CPU thread."""

from __future__ import annotations

import pytest
import torch

from landsim.real import data, models, train

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits_small():
    """Digits with 300 training and 120 test samples, (N, 64) float32."""
    return data.digits(seed=0).subset(300, 120)


def tiny_mlp(seed: int = 0, width: int = 12, **kw):
    """A one-hidden-layer MLP for 64 inputs and 10 classes."""
    return models.build_model("mlp", input_shape=(64,), n_classes=10, seed=seed, width=width,
                              depth=1, **kw)


@pytest.fixture(scope="session")
def make_mlp():
    """The :func:`tiny_mlp` factory."""
    return tiny_mlp


@pytest.fixture(scope="session")
def trained_pair(digits_small):
    """Two independently trained tiny MLPs: (template module, flat_a, flat_b)."""
    cfg = train.TrainConfig(optimizer="momentum", lr=0.1, epochs=8, batch_size=32)
    flats = []
    for s in (0, 1):
        net = tiny_mlp(seed=s)
        flats.append(train.train(net, digits_small, cfg, seed=s).flat)
    return tiny_mlp(seed=0), flats[0], flats[1]
