"""Real-network E2: gain over chance against the subspace dimension, d_int90 <= P / 10,
and its permuted-label control."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from claim_arms import assert_rule_discriminates, run_arms
from matplotlib.figure import Figure

from landsim.real.data import Dataset
from landsim.real.experiments import e2_intrinsic_dimension as e2
from landsim.results import load_result, save_result
from landsim.seeding import replicate_sequence

#: Smoke-sized: 300 samples, a wider one-layer MLP (P = 2410, limit 241) trained long
#: enough that a subspace of 240 dimensions fits the true labels.
ARMS_CONFIG = dataclasses.replace(e2.smoke_config(), width=32, epochs=50,
                                  dims=(25, 100, 240))


@pytest.fixture(scope="module")
def arms():
    return run_arms(e2, ARMS_CONFIG, seed=0, replicate=0)


@pytest.mark.parametrize("change, match", [
    ({"dims": ()}, "dims"), ({"dims": (0, 10)}, "dims"), ({"n_runs": 0}, "n_runs"),
    ({"fraction": 0.0}, "fraction"), ({"metric": "val"}, "metric"),
    ({"projection": "fft"}, "projection"), ({"max_ratio": 1.5}, "max_ratio"),
    ({"min_full_gain": 1.5}, "min_full_gain"),
    ({"include_full": 1}, "include_full"), ({"permute_labels": 1}, "permute_labels"),
    ({"device": "gpu"}, "device"),
])
def test_config_rejects_bad_values(change, match):
    with pytest.raises(ValueError, match=match):
        e2.Config(**change)


def test_grid_includes_p_and_rejects_too_large_d():
    cfg = e2.Config(dims=(50, 10))
    assert cfg.dims == (10, 50)
    assert e2.grid(cfg, 100) == [10, 50, 100]
    with pytest.raises(ValueError, match="P = 40"):
        e2.grid(cfg, 40)


# ---------------------------------------------------------------- both directions
def test_rule_passes_on_true_labels_and_fails_on_permuted_ones(arms):
    claim, control = arms
    assert_rule_discriminates(claim, control)
    # the control fails on the subspace, not only on the full-space precondition
    assert control.metrics["full_gain"] >= ARMS_CONFIG.min_full_gain
    assert control.metrics["best_gain_within_limit"] < ARMS_CONFIG.fraction


def test_control_changes_the_world_not_the_rule():
    for cfg in (e2.Config(), e2.quick_config(), e2.smoke_config()):
        ctrl = e2.control_config(cfg)
        for name in e2.RULE_FIELDS:
            assert getattr(ctrl, name) == getattr(cfg, name)
        changed = {f.name for f in dataclasses.fields(cfg)
                   if getattr(ctrl, f.name) != getattr(cfg, f.name)}
        assert changed == {"permute_labels"}
    fields = {f.name for f in dataclasses.fields(e2.Config)}
    assert set(e2.RULE_FIELDS) <= fields and "permute_labels" not in e2.RULE_FIELDS
    assert 3 <= len(e2.KEY_METRICS) <= 6


# ---------------------------------------------------------------- pieces of the rule
def test_chance_accuracy():
    assert e2.chance_accuracy([0, 1, 1, 2]) == 0.5
    assert e2.chance_accuracy(np.arange(10)) == pytest.approx(0.1)


def test_gain_over_chance():
    np.testing.assert_allclose(e2.gain_over_chance([0.1, 0.55, 1.0], 1.0, 0.1),
                               [0.0, 0.5, 1.0])
    assert e2.gain_over_chance([0.05], 0.5, 0.1)[0] == pytest.approx(-0.125)
    assert np.isnan(e2.gain_over_chance([0.3, 0.4], 0.1, 0.1)).all()  # nothing learned


def test_best_gain_within_limit():
    dims, gain = np.array([10, 50, 100, 1000]), np.array([0.2, 0.95, 0.5, 1.0])
    assert e2.best_gain_within_limit(dims, gain, 100) == 0.95
    assert e2.best_gain_within_limit(dims, gain, 10) == 0.2
    assert math.isnan(e2.best_gain_within_limit(dims, gain, 5))
    assert e2.best_gain_within_limit(dims, [np.nan, 0.3, np.nan, 1.0], 100) == 0.3


def test_verdict_on_constructed_curves():
    cfg = e2.Config()
    dims = np.array([10, 50, 100, 1000])
    low = np.array([[0.2], [0.95], [0.96], [0.97]])
    assert e2.verdict_of(dims, low, 0.97, 0.1, 1000, cfg).holds  # d_int = 50 <= 100
    late = np.array([[0.2], [0.5], [0.6], [0.97]])
    v = e2.verdict_of(dims, late, 0.97, 0.1, 1000, cfg)
    assert not v.holds and "d_int90 = 1000" in v.evidence
    # a gain reached just above the limit does not count
    assert not e2.verdict_of(dims, low, 0.97, 0.1, 499, cfg).holds
    never = np.full((4, 1), 0.1)
    assert "no d on the grid" in e2.verdict_of(dims, never, 0.97, 0.1, 1000, cfg).evidence
    # a full-space run that did not learn its task fails, however good the subspaces
    weak = e2.verdict_of(dims, np.full((4, 1), 0.25), 0.25, 0.1, 1000, cfg)
    assert not weak.holds and "< 0.2" in weak.evidence
    # the mean over runs is judged, not the best run
    mixed = np.array([[0.1, 0.1], [0.99, 0.5], [0.5, 0.5], [0.97, 0.97]])
    assert not e2.verdict_of(dims, mixed, 0.97, 0.1, 1000, cfg).holds


def test_permuted_labels_keep_frequencies_and_the_test_split():
    g = torch.Generator().manual_seed(0)
    ds = Dataset(torch.randn(50, 3, generator=g), torch.arange(50) % 5,
                 torch.randn(10, 3, generator=g), torch.arange(10) % 5, 5)
    seq = replicate_sequence(0, 0)
    a, b = e2.permuted_labels(ds, seq), e2.permuted_labels(ds, seq)
    assert torch.equal(a.y_train, b.y_train)  # same stream, same permutation
    assert not torch.equal(a.y_train, ds.y_train)
    assert torch.equal(torch.bincount(a.y_train), torch.bincount(ds.y_train))
    assert torch.equal(a.y_test, ds.y_test) and torch.equal(a.x_train, ds.x_train)


def test_run_seeds_are_distinct_and_stable():
    stream = replicate_sequence(0, 0)
    seeds = {(d, r): e2._run_seeds(stream, d, r) for d in (10, 11, 100) for r in (0, 1)}
    flat = [s for pair in seeds.values() for s in pair]
    assert len(set(flat)) == len(flat)
    assert e2._run_seeds(stream, 10, 1) == seeds[(10, 1)]


# ---------------------------------------------------------------- the measurement
def test_interface_and_shapes(arms):
    claim, control = arms
    for r in (claim, control):
        assert r.kind == "real" and r.experiment == "E2"
        s, p = r.series, int(r.metrics["n_params"])
        assert s["dims"].tolist() == list(ARMS_CONFIG.dims) + [p]
        assert s["accuracy"].shape == s["train_loss"].shape == (len(ARMS_CONFIG.dims) + 1,
                                                                ARMS_CONFIG.n_runs)
        assert np.all((s["accuracy"] >= 0) & (s["accuracy"] <= 1))
        assert set(e2.KEY_METRICS) <= set(r.metrics)
    # both arms train the same network on the same inputs: only the labels differ
    assert claim.metrics["n_params"] == control.metrics["n_params"]
    assert claim.metrics["chance_accuracy"] == control.metrics["chance_accuracy"]


def test_full_dimensional_subspace_matches_full_training(arms):
    """At d = P an orthonormal projection is a rotation of weight space: subspace training
    is full-space training in other coordinates, so it reaches the reference accuracy."""
    m = arms[0].metrics
    assert m["accuracy_at_full_d"] >= m["threshold_accuracy"]
    assert abs(m["accuracy_at_full_d"] - m["full_accuracy"]) <= 0.05


def test_verdict_recomputed_from_series(arms):
    for r in arms:
        s, m, c = r.series, r.metrics, r.config
        gain = (s["accuracy"].mean(axis=1) - m["chance_accuracy"]) / (
            m["full_accuracy"] - m["chance_accuracy"])
        np.testing.assert_allclose(s["gain"], gain)
        inside = gain[s["dims"] <= c["max_ratio"] * m["n_params"]]
        assert m["best_gain_within_limit"] == pytest.approx(inside.max())
        holds = (m["full_gain"] >= c["min_full_gain"]
                 and inside.max() >= c["fraction"])
        assert r.verdict.holds == holds
        assert e2.verdict_of(s["dims"], s["accuracy"], m["full_accuracy"],
                             m["chance_accuracy"], int(m["n_params"]),
                             e2.Config(**c)) == r.verdict


def test_round_trip_and_plot(arms, tmp_path):
    for r in arms:
        back = load_result(save_result(r, tmp_path))
        assert back.kind == "real" and back.verdict == r.verdict
        for key, arr in r.series.items():
            np.testing.assert_array_equal(back.series[key], arr)
        fig = Figure(figsize=(10, 4))
        e2.plot(back, fig)
        assert len(fig.axes) == 2 and all(ax.has_data() for ax in fig.axes)
    assert e2.Config(**back.config) == e2.control_config(ARMS_CONFIG)
