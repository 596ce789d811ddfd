"""Analytic cases the real-network tools must reproduce exactly."""

from __future__ import annotations

import torch
from torch import nn

from landsim.real import data, flat, train
from landsim.real.curves import evaluate_path, make_curve
from landsim.real.experiments.e6_weight_averaging import swa_average


def _two_optima(model_fn, dataset, epochs=3):
    config = train.TrainConfig(optimizer="sgd", lr=0.1, epochs=epochs, batch_size=64)
    runs = [train.train(model_fn(seed), dataset, config, seed=seed) for seed in (0, 1)]
    return runs[0].flat, runs[1].flat


def test_a_linear_model_on_a_convex_loss_has_zero_barrier():
    """Cross-entropy of a linear model is convex in its weights: along any straight line
    the loss stays below the chord of its end values, so the barrier is 0."""
    torch.manual_seed(0)
    ds = data.mixture(n_train=400, n_test=200, dim=10, n_classes=3, seed=0)
    a, b = _two_optima(lambda s: (torch.manual_seed(s), nn.Linear(10, 3))[1], ds)
    assert torch.linalg.vector_norm(a - b) > 0.1  # two different solutions
    fm = flat.FlatModel(nn.Linear(10, 3))
    profile = evaluate_path(make_curve("line", a, b), fm, ds, t=41)
    scale = max(profile.train_loss.max(), 1.0)
    assert profile.train_barrier <= 1e-6 * scale
    assert profile.test_barrier <= 1e-6 * scale


def test_a_small_mlp_between_independent_optima_is_not_convex():
    """The same measurement can fail: two independently trained tanh MLPs on the same
    data are separated by a positive barrier on the straight line."""
    ds = data.mixture(n_train=400, n_test=200, dim=10, n_classes=3, seed=0)

    def mlp(seed):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, 3))

    a, b = _two_optima(mlp, ds, epochs=10)
    profile = evaluate_path(make_curve("line", a, b), flat.FlatModel(mlp(0)), ds, t=41)
    assert profile.train_barrier > 1e-3


def test_swa_average_of_identical_checkpoints_is_that_checkpoint():
    torch.manual_seed(0)
    fm = flat.FlatModel(nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2)))
    w = torch.randn(fm.n_params)
    before = fm.get_flat().clone()
    average = swa_average(fm, w.repeat(5, 1))
    assert torch.allclose(average, w, rtol=0, atol=1e-6)
    distinct = torch.stack([w, w + 1.0])
    assert torch.allclose(swa_average(fm, distinct), w + 0.5, atol=1e-6)
    assert torch.equal(fm.get_flat(), before)  # the model itself is untouched
