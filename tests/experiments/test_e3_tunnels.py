"""E3 on the toy landscape: optima joined by trained low-loss paths that the line misses;
the control (two optima in one wedge) has no line barrier, so the same rule fails."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from landsim import geometry, paths
from landsim.experiments import get
from landsim.results import load_result, save_result
from landsim.seeding import replicate_sequence
from landsim.spec import random_landscape
from tests.claim_arms import assert_rule_discriminates, run_arms

E3 = get("E3")


@pytest.fixture(scope="module")
def arms():
    """(claim, control) of replicate 0 at the quick size."""
    return run_arms(E3, E3.quick_config(), seed=0, replicate=0)


@pytest.fixture(scope="module")
def quick_result(arms):
    return arms[0]


def test_rule_passes_on_the_claim_and_fails_on_the_control(arms):
    claim, control = arms
    assert_rule_discriminates(claim, control)
    cfg = E3.quick_config()
    assert claim.metrics["same_wedge"] == 0.0 and control.metrics["same_wedge"] == 1.0
    # the control fails on the line-barrier part: far below the threshold, not at its edge
    assert control.metrics["line_relative_barrier"] < 0.1 * cfg.min_line_barrier
    assert claim.metrics["line_relative_barrier"] > 10 * cfg.min_line_barrier
    # paired design: same landscape and starts, so the same reference loss
    assert control.metrics["median_start_loss"] == claim.metrics["median_start_loss"]
    assert control.metrics["endpoint_loss_max"] <= cfg.target_loss


def test_control_config_changes_only_the_world():
    for cfg in (E3.Config(), E3.quick_config(), E3.Config(n_wedges=12, n_starts=4)):
        ctrl = E3.control_config(cfg)
        for name in E3.RULE_FIELDS:
            assert getattr(ctrl, name) == getattr(cfg, name)
        assert cfg.pair == "different_wedges" and ctrl.pair == "same_wedge"
        assert ctrl.n_starts == max(cfg.n_starts, cfg.n_wedges + 1)
        changed = {f.name for f in dataclasses.fields(cfg)
                   if getattr(cfg, f.name) != getattr(ctrl, f.name)}
        assert changed <= {"pair", "n_starts"}
    assert set(E3.RULE_FIELDS) <= {f.name for f in dataclasses.fields(E3.Config)}
    assert 3 <= len(E3.KEY_METRICS) <= 6 and isinstance(E3.CONTROL, str) and E3.CONTROL


def test_key_metrics_are_recorded(arms):
    for r in arms:
        assert set(E3.KEY_METRICS) <= set(r.metrics)
        assert r.metrics[E3.KEY_METRICS[0]] == pytest.approx(
            r.metrics["linear_barrier"] / r.metrics["median_start_loss"], rel=1e-15)


def test_same_sequence_gives_bit_identical_results():
    cfg = E3.Config(dim=300, n_wedges=3, n_short=30, n_starts=4, descent_steps=150,
                    train_steps=20, train_samples=8, profile_points=21)
    ss = replicate_sequence(5, 1)
    one, two = E3.run(cfg, seed=ss), E3.run(cfg, seed=replicate_sequence(5, 1))
    assert one.metrics == two.metrics and one.verdict == two.verdict
    assert set(one.series) == set(two.series)
    for key, arr in one.series.items():
        np.testing.assert_array_equal(two.series[key], arr)
    assert (one.seed, one.replicate) == (5, 1)
    other = E3.run(cfg, seed=replicate_sequence(5, 2))
    assert other.metrics["linear_barrier"] != one.metrics["linear_barrier"]


# ------------------------------------------------------------------------ rule pieces
def test_pick_pair_on_hand_made_wedges():
    wedges = np.array([3, 3, 1, 3, 1])
    reached = np.array([True, True, True, True, True])
    assert E3.pick_pair(wedges, reached, "different_wedges") == (0, 2)
    assert E3.pick_pair(wedges, reached, "same_wedge") == (0, 1)
    reached = np.array([False, True, True, True, False])
    assert E3.pick_pair(wedges, reached, "different_wedges") == (1, 2)
    assert E3.pick_pair(wedges, reached, "same_wedge") == (1, 3)
    with pytest.raises(RuntimeError, match="in one wedge"):
        E3.pick_pair(np.array([0, 1, 2]), np.ones(3, bool), "same_wedge")
    with pytest.raises(RuntimeError, match="in different wedges"):
        E3.pick_pair(np.array([2, 2, 2]), np.ones(3, bool), "different_wedges")
    with pytest.raises(RuntimeError, match="1 converged"):
        E3.pick_pair(np.array([0, 1]), np.array([True, False]), "different_wedges")


def test_relative_barriers():
    assert E3.relative_barriers(2.0, 0.01, 20.0) == (0.1, 0.005)
    assert E3.relative_barriers(0.0, 0.0, 20.0) == (0.0, 0.0)
    assert E3.relative_barriers(0.0, 0.3, 20.0) == (0.0, math.inf)
    assert E3.relative_barriers(1.0, 0.0, 0.0) == (math.inf, 0.0)


@pytest.mark.parametrize("line, chain, bezier, holds", [
    (3.0, 0.02, 0.001, True),  # a line barrier of 10 % of L_ref, removed by the Bezier
    (3.0, 0.001, 0.5, True),  # ... or by the chain: the better path is judged
    (3.0, 0.2, 0.1, False),  # the trained paths keep 3 % of the barrier: no tunnel found
    (0.2, 0.0, 0.0, False),  # line barrier 0.67 % of L_ref: the line misses nothing
    (0.0, 0.0, 0.0, False),  # no barrier at all
    (0.3, 0.003, 0.003, True),  # exactly at both thresholds
])
def test_verdict_of_both_directions(line, chain, bezier, holds):
    cfg = E3.Config()
    v = E3.verdict_of(line, {"chain": chain, "bezier": bezier}, 30.0, cfg)
    assert v.holds is holds
    assert f"line barrier {line:.4g}" in v.evidence and "0.01" in v.rule


@pytest.fixture(scope="module")
def small():
    """A small landscape and a generic path (a, free, b) for gradient checks."""
    spec = random_landscape(30, 3, 5, eps0=0.05, eps1=0.05, seed=3)
    rng = np.random.default_rng(7)
    a, free, b = rng.normal(0.0, 1.0, (3, 30))
    return spec, a, free, b


def test_claim_holds_at_quick_size(quick_result):
    r = quick_result
    cfg = E3.quick_config()
    m = r.metrics
    assert r.experiment == "E3" and r.kind == "toy"
    assert r.verdict.holds, r.verdict.evidence
    assert m["wedge_a"] != m["wedge_b"]
    assert m["endpoint_loss_max"] <= cfg.target_loss
    assert m["linear_barrier"] > cfg.min_line_barrier * m["median_start_loss"] > 0
    for key in ("chain_barrier", "bezier_barrier", "best_trained_barrier"):
        assert 0.0 <= m[key] < m["linear_barrier"]
    assert m["best_trained_barrier"] == min(m["chain_barrier"], m["bezier_barrier"])
    assert m["best_trained_barrier"] <= cfg.barrier_fraction * m["linear_barrier"]
    assert m["analytic_barrier"] <= 1e-12  # the chain through the intersection has no bump
    assert m["chain_free_moved"] > 0 and m["bezier_free_moved"] > 0


def test_series_shapes(quick_result):
    cfg = E3.quick_config()
    s = quick_result.series
    for key in ("t", "line_loss", "chain_loss", "bezier_loss", "analytic_loss"):
        assert s[key].shape == (cfg.profile_points,)
    for key in ("chain_train_loss", "bezier_train_loss", "train_step"):
        assert s[key].shape == (cfg.train_steps + 1,)
    assert s["record_step"][0] == 0 and s["record_step"][-1] == cfg.train_steps
    assert s["chain_record_barrier"].shape == s["record_step"].shape
    # the line peaks inside, the optima sit at the ends
    assert s["line_loss"].max() > 100 * max(s["line_loss"][0], s["line_loss"][-1], 1e-12)


def test_trained_paths_start_on_the_line(quick_result):
    s, m = quick_result.series, quick_result.metrics
    for kind in ("chain", "bezier"):
        assert s[f"{kind}_record_barrier"][0] == pytest.approx(m["linear_barrier"], rel=1e-9)
        assert s[f"{kind}_record_barrier"][-1] == pytest.approx(m[f"{kind}_barrier"], rel=1e-12)
        assert s[f"{kind}_train_loss"][-1] < 1e-2 * s[f"{kind}_train_loss"][0]


def test_paths_through_the_midpoint_are_the_line(small):
    _, a, _, b = small
    t = paths.as_t(11)
    mid = 0.5 * (a + b)
    line = paths.line(a, b, t)
    for kind in E3.PATH_KINDS:
        np.testing.assert_allclose(E3.path_points(kind, a, mid, b, t), line, atol=1e-14)
    free = a + 2.0
    chain = E3.path_points("chain", a, free, b, np.array([0.0, 0.25, 0.5, 1.0]))
    np.testing.assert_array_equal(chain[[0, 2, 3]], np.stack([a, free, b]))
    np.testing.assert_allclose(chain[1], 0.5 * (a + free))


def test_free_point_weights():
    t = np.linspace(0.0, 1.0, 9)
    np.testing.assert_allclose(E3.free_point_weights("bezier", t), 2 * t * (1 - t))
    np.testing.assert_allclose(E3.free_point_weights("chain", t), np.minimum(2 * t, 2 - 2 * t))
    for kind, value in E3.MEAN_SQUARED_WEIGHT.items():  # E_t[w^2] under uniform t
        fine = np.linspace(0.0, 1.0, 200_001)
        assert np.mean(E3.free_point_weights(kind, fine) ** 2) == pytest.approx(value, rel=1e-4)
    with pytest.raises(ValueError, match="kind must be one of"):
        E3.free_point_weights("spline", t)


@pytest.mark.parametrize("kind", ["chain", "bezier"])
def test_gradient_matches_finite_differences(small, kind):
    spec, a, free, b = small
    t = np.linspace(0.03, 0.97, 17)
    value, grad = E3.expected_loss_and_grad(spec, kind, a, free, b, t)
    assert value > 0 and np.any(grad != 0)
    h = 1e-6
    fd = np.empty_like(free)
    for i in range(free.size):
        e = np.zeros_like(free)
        e[i] = h
        plus = E3.expected_loss_and_grad(spec, kind, a, free + e, b, t)[0]
        minus = E3.expected_loss_and_grad(spec, kind, a, free - e, b, t)[0]
        fd[i] = (plus - minus) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-7)
    assert value == pytest.approx(geometry.loss(spec, E3.path_points(kind, a, free, b, t))
                                  .mean())


def test_round_trip(quick_result, tmp_path):
    back = load_result(save_result(quick_result, tmp_path))
    assert back.metrics == quick_result.metrics
    assert back.verdict == quick_result.verdict
    assert set(back.series) == set(quick_result.series)
    for k, v in quick_result.series.items():
        assert np.array_equal(back.series[k], v)


@pytest.mark.parametrize("kwargs,message", [
    (dict(n_short=5000),
     r"n_short must be an integer in \[1, dim - 1 = 3999\] "
     r"\(a wedge needs at least one long direction\), got 5000"),
    (dict(n_wedges=1), "n_wedges must be an integer >= 2, got 1"),
    (dict(n_starts=1), "n_starts must be an integer >= 2, got 1"),
    (dict(train_lr=2.0), r"train_lr must be in \]0, 2\[, got 2.0"),
    (dict(radius=0.0), r"radius must be in \]0, inf\[, got 0.0"),
    (dict(profile_points=2), "profile_points must be an integer >= 3, got 2"),
    (dict(barrier_fraction=-0.1), r"barrier_fraction must be in \[0, inf\[, got -0.1"),
    (dict(pair="one"), r"pair must be one of \('different_wedges', 'same_wedge'\), got 'one'"),
    (dict(pair="same_wedge", n_starts=8),
     r"n_starts must be an integer >= n_wedges \+ 1 = 9 when pair is 'same_wedge'"),
])
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        E3.Config(**kwargs)


def test_plot_draws(quick_result):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure()
    E3.plot(quick_result, fig)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 4 and fig.axes[1].lines
