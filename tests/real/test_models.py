"""Tests of landsim.real.models: the registry, seeding and shapes; torch-free import."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from landsim.real import models


def _flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def test_import_landsim_does_not_import_torch():
    code = ("import sys, landsim, landsim.paths, landsim.descent; "
            "print('torch' in sys.modules, 'landsim.real' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]


def test_same_seed_same_weights_and_global_rng_untouched():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = models.build_model("mlp", input_shape=(64,), n_classes=10, seed=4)
    assert torch.equal(torch.random.get_rng_state(), before)
    b = models.build_model("mlp", input_shape=(64,), n_classes=10, seed=4)
    c = models.build_model("mlp", input_shape=(64,), n_classes=10, seed=5)
    assert torch.equal(_flat(a), _flat(b)) and not torch.equal(_flat(a), _flat(c))


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_mlp_layout_and_output(depth):
    net = models.build_model("mlp", input_shape=(1, 8, 8), n_classes=7, width=5, depth=depth)
    n_params = (64 * 5 + 5 + (depth - 1) * (5 * 5 + 5) + 5 * 7 + 7) if depth else 64 * 7 + 7
    assert sum(p.numel() for p in net.parameters()) == n_params
    assert net(torch.zeros(3, 1, 8, 8)).shape == (3, 7)


def test_batchnorm_and_activation_options():
    net = models.build_model("mlp", width=4, depth=2, batchnorm=True, activation="tanh")
    kinds = [type(m) for m in net]
    assert kinds.count(nn.BatchNorm1d) == 2 and kinds.count(nn.Tanh) == 2
    cnn = models.build_model("cnn", input_shape=(1, 8, 8), channels=(2, 3), batchnorm=True)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in cnn.modules()) == 2


@pytest.mark.parametrize("side,flat_features", [(8, 16 * 2 * 2), (28, 16 * 7 * 7)])
def test_cnn_for_8x8_and_28x28(side, flat_features):
    net = models.build_model("cnn", input_shape=(1, side, side), n_classes=10, channels=(8, 16))
    assert net.classifier.in_features == flat_features
    assert net(torch.randn(2, 1, side, side)).shape == (2, 10)
    assert models.ModelSpec("cnn", channels=4).channels == (4, 8)


def test_user_module_passes_through():
    mine = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    assert models.build_model(mine) is mine
    with pytest.raises(ValueError, match="registered models only"):
        models.build_model(mine, width=3)


def test_spec_round_trip_and_validation():
    spec = models.ModelSpec("cnn", channels=(3, 5), batchnorm=True)
    assert models.ModelSpec(**spec.to_dict()) == spec
    with pytest.raises(ValueError, match="name must be one of"):
        models.ModelSpec("resnet")
    with pytest.raises(ValueError, match="width must be an integer >= 1"):
        models.ModelSpec(width=0)
    with pytest.raises(ValueError, match="activation"):
        models.ModelSpec(activation="gelu")
    with pytest.raises(ValueError, match="square images"):
        models.build_model("cnn", input_shape=(64,))
