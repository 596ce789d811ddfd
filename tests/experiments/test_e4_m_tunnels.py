"""E4 on the toy landscape: m-tunnels, short counts and threshold dimensions against m,
beside the control whose wedges share one set of short axes."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from claim_arms import assert_rule_discriminates, run_arms

from landsim import geometry, paths
from landsim.experiments import get
from landsim.results import load_result, save_result
from landsim.seeding import replicate_sequence
from landsim.spec import random_landscape

E4 = get("E4")


@pytest.fixture(scope="module")
def arms():
    return run_arms(E4, E4.quick_config())


@pytest.fixture(scope="module")
def quick_result(arms):
    return arms[0]


def test_rule_passes_on_the_claim_and_fails_on_the_control(arms):
    claim, control = arms
    assert_rule_discriminates(claim, control)
    # the control fails on both halves of the growth rule, not only on the exact count
    cfg = E4.quick_config()
    assert control.metrics["short_count_growth"] == 1.0
    assert not E4.grows_clearly(control.series["threshold"], cfg.min_growth)
    assert claim.metrics["threshold_growth"] >= cfg.min_growth
    assert claim.metrics["short_count_growth"] >= cfg.min_growth


def test_control_changes_the_world_not_the_rule():
    for cfg in (E4.Config(), E4.quick_config()):
        ctl = E4.control_config(cfg)
        assert ctl.shared_short_axes and not cfg.shared_short_axes
        for name in E4.RULE_FIELDS:
            assert getattr(ctl, name) == getattr(cfg, name)
        changed = {f.name for f in dataclasses.fields(cfg)
                   if getattr(cfg, f.name) != getattr(ctl, f.name)}
        assert changed == {"shared_short_axes"}
    assert 3 <= len(E4.KEY_METRICS) <= 6 and E4.KEY_METRICS[0] == "threshold_growth"


def test_control_landscape_shares_wedge_zero_axes():
    cfg = E4.Config(dim=60, n_wedges=4, n_short=5, m_max=3)
    ss = np.random.SeedSequence(7)
    claim = E4.build_landscape(cfg, ss)
    control = E4.build_landscape(E4.control_config(cfg), ss)
    np.testing.assert_array_equal(control.wedges[0].short_axes, claim.wedges[0].short_axes)
    for w in control.wedges:
        np.testing.assert_array_equal(w.short_axes, claim.wedges[0].short_axes)
        assert (w.eps0, w.eps1) == (cfg.eps0, cfg.eps1)
    assert geometry.intersection(control, range(4)).short_count == 5
    assert geometry.intersection(claim, range(4)).short_count > 5


def test_growth_and_grows_clearly():
    assert E4.growth([40, 60, 80]) == 2.0
    assert math.isnan(E4.growth([40, float("nan")])) and math.isnan(E4.growth([0, 5]))
    assert E4.grows_clearly([40, 60, 60], 1.5)  # non-decreasing, 1.5x
    assert not E4.grows_clearly([40, 60, 59], 1.5)  # a decrease
    assert not E4.grows_clearly([40, 50, 59], 1.5)  # grows, but by less than 1.5x
    assert not E4.grows_clearly([40, float("nan"), 80], 1.5)  # a missing threshold
    assert not E4.grows_clearly([50, 50, 50], 1.0 + 1e-9) and E4.grows_clearly([50, 50], 1.0)


def test_same_sequence_gives_bit_identical_results():
    cfg = E4.Config(dim=120, n_wedges=3, n_short=6, m_max=3, train_steps=10,
                    train_samples=8, grid_points=60, threshold_seeds=3, threshold_steps=10,
                    threshold_samples=4)
    a = E4.run(cfg, seed=replicate_sequence(5, 1))
    b = E4.run(cfg, seed=replicate_sequence(5, 1))
    c = E4.run(cfg, seed=replicate_sequence(5, 2))
    assert a.metrics.keys() == b.metrics.keys()
    for k in a.metrics:
        assert a.metrics[k] == b.metrics[k] or (math.isnan(a.metrics[k])
                                                and math.isnan(b.metrics[k]))
    for k, v in a.series.items():
        np.testing.assert_array_equal(v, b.series[k])
    assert a.verdict == b.verdict and (a.seed, a.replicate) == (5, 1)
    assert not np.array_equal(a.series["train_loss"], c.series["train_loss"])


def test_claim_holds_at_quick_size(quick_result):
    r = quick_result
    cfg = E4.quick_config()
    s = r.series
    assert r.experiment == "E4" and r.kind == "toy"
    assert r.verdict.holds, r.verdict.evidence
    np.testing.assert_array_equal(s["m"], np.arange(2, cfg.m_max + 1))
    # the trained tunnel is low-loss, the flat simplex and the centre-only tunnel are not
    assert np.all(s["tunnel_max"] <= cfg.tunnel_fraction * s["flat_max"])
    assert np.all(s["tunnel_mean"] <= s["tunnel_max"])
    assert np.all(s["flat_max"] > 0) and np.all(s["flat_mean"] > 0)
    # for m >= 3 the centre-only tunnel keeps the straight edges and their barriers
    assert np.all(s["centre_only_max"][1:] >= s["edge_max"][1:])
    assert np.all(s["edge_max"][1:] > 0.1 * s["flat_max"][1:]) and s["edge_max"][0] == 0
    assert r.metrics["max_relative_tunnel_loss"] == pytest.approx(s["tunnel_relative_max"].max())


def test_short_counts_grow_and_match_the_expectation(quick_result):
    s = quick_result.series
    counts, expected = s["short_count"], s["expected_short_count"]
    assert np.all(np.diff(counts) > 0)
    assert np.all(np.abs(counts - expected) <= 0.1 * expected + 3)
    cfg = E4.quick_config()
    np.testing.assert_allclose(expected, cfg.dim * (1 - (1 - cfg.n_short / cfg.dim) ** s["m"]))


def test_thresholds_grow_and_sit_near_the_short_count(quick_result):
    s = quick_result.series
    th = s["threshold"]
    assert np.all(np.isfinite(th)) and np.all(np.diff(th) >= 0) and th[-1] > th[0]
    # the centre must meet |union| conditions: far fewer dimensions cannot do
    assert np.all(th >= 0.75 * s["short_count"]) and np.all(th <= 2.0 * s["short_count"])
    # every evaluated rate: the threshold itself reaches 0.9, a d below it by more than the
    # search step does not
    cfg = E4.quick_config()
    for m, t in zip(s["m"], th):
        sel = s["threshold_eval_m"] == m
        d, rate = s["threshold_eval_d"][sel], s["threshold_eval_rate"][sel]
        assert rate[d == t][0] >= cfg.success_rate
        assert np.any((d < t) & (d >= t - cfg.threshold_step) & (rate < cfg.success_rate))


def test_training_curves(quick_result):
    s = quick_result.series
    cfg = E4.quick_config()
    assert s["train_loss"].shape == (cfg.m_max - 1, cfg.train_steps + 1)
    assert np.all(s["train_loss"][:, -1] < 1e-2 * s["train_loss"][:, 0])
    assert s["m3_grid"].shape[1] == 3
    assert s["m3_tunnel_loss"].shape == s["m3_flat_loss"].shape == (s["m3_grid"].shape[0],)


def test_subdivision_tunnel_generalises_the_library_tunnel():
    rng = np.random.default_rng(0)
    m, dim = 4, 7
    v = rng.normal(size=(m, dim))
    lam = np.concatenate([paths.simplex_dirichlet(m, 50, rng), paths.simplex_grid(m, 3)])
    W = E4.subdivision_weights(lam).toarray()
    assert W.min() >= 0
    np.testing.assert_allclose(W.sum(axis=1), 1.0)
    np.testing.assert_allclose(W[:, -1], paths.tunnel_centre_weights(lam))
    table = E4.face_table(v)
    np.testing.assert_allclose(E4.tunnel_points(table, lam), paths.simplex_points(v, lam),
                               atol=1e-12)
    np.testing.assert_allclose(E4.flat_points(v, lam), paths.simplex_points(v, lam),
                               atol=1e-12)
    centre = rng.normal(size=dim)
    table[-1] = centre  # only the centre free: the library's m-tunnel
    np.testing.assert_allclose(E4.tunnel_points(table, lam),
                               paths.simplex_tunnel_points(v, centre, lam), atol=1e-12)
    table[3] = rng.normal(size=dim)  # a free edge point: the vertices stay where they are
    np.testing.assert_array_equal(E4.tunnel_points(table, np.eye(m)), v)
    half = np.array([[0.5, 0.5, 0.0, 0.0]])  # the midpoint of edge {0, 1} maps to its point
    np.testing.assert_allclose(E4.tunnel_points(table, half)[0], table[3])


def test_mean_squared_face_weight_matches_sampling():
    m = 4
    lam = paths.simplex_dirichlet(m, 200_000, seed=1)
    W = E4.subdivision_weights(lam).toarray()
    sizes = E4.face_sizes(m)
    expected = E4.mean_squared_face_weight(m)
    free = sizes >= 2
    np.testing.assert_allclose(np.mean(W**2, axis=0)[free], expected[free], rtol=0.05)
    assert expected[-1] == pytest.approx(2.0 / (m * (m + 1)))


def test_gradient_matches_finite_differences():
    spec = random_landscape(12, 3, 3, eps0=0.05, eps1=0.05, seed=2)
    rng = np.random.default_rng(3)
    table = rng.normal(size=(8, 12))
    lam = paths.simplex_dirichlet(3, 40, rng)
    value, grad = E4.expected_loss_and_grad(spec, table, lam)
    assert value > 0 and grad.shape == table.shape and np.any(grad[3] != 0)
    h = 1e-6
    fd = np.zeros_like(table)
    for idx in np.ndindex(*table.shape):
        e = np.zeros_like(table)
        e[idx] = h
        fd[idx] = (E4.expected_loss_and_grad(spec, table + e, lam)[0]
                   - E4.expected_loss_and_grad(spec, table - e, lam)[0]) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-7)
    assert value == pytest.approx(geometry.loss(spec, E4.tunnel_points(table, lam)).mean())


def test_find_threshold():
    calls = []

    def rate(d):
        calls.append(d)
        return 1.0 if d >= 137 else 0.5

    for guess in (1, 50, 137, 400, 1000):
        calls.clear()
        d, rates = E4.find_threshold(rate, guess, 1000, 0.9, 1)
        assert d == 137 and rates[136] == 0.5 and rates[137] == 1.0
        assert len(calls) == len(set(calls)) < 40
        d, _ = E4.find_threshold(rate, guess, 1000, 0.9, 8)
        assert 137 <= d <= 137 + 8
    assert E4.find_threshold(lambda d: 0.0, 10, 100, 0.9, 1) == (None, {
        10: 0.0, 13: 0.0, 17: 0.0, 22: 0.0, 28: 0.0, 35: 0.0, 44: 0.0, 55: 0.0, 69: 0.0,
        87: 0.0, 100: 0.0})
    assert E4.find_threshold(lambda d: 1.0, 10, 100, 0.9, 1)[0] == 1


def test_grid_resolution():
    for m, budget in ((2, 50), (3, 600), (5, 600), (6, 2000)):
        r = E4.grid_resolution(m, budget)
        assert math.comb(r + m - 1, m - 1) <= budget < math.comb(r + m, m - 1)
    assert E4.grid_resolution(2, 10**9) == E4.MAX_RESOLUTION


def test_a_claim_that_does_not_hold_is_reported(monkeypatch):
    # no subspace dimension succeeds: the thresholds are missing and the verdict says no
    monkeypatch.setattr(E4, "find_threshold", lambda *args, **kwargs: (None, {}))
    r = E4.run(E4.quick_config(), seed=0)
    assert not r.verdict.holds
    assert np.all(np.isnan(r.series["threshold"])) and "none" in r.verdict.evidence
    assert r.metrics["thresholds_grow"] == 0.0 and r.metrics["short_counts_grow"] == 1.0


def test_round_trip(quick_result, tmp_path):
    back = load_result(save_result(quick_result, tmp_path))
    assert back.metrics == quick_result.metrics
    assert back.verdict == quick_result.verdict
    assert set(back.series) == set(quick_result.series)
    for k, v in quick_result.series.items():
        assert np.array_equal(back.series[k], v)


@pytest.mark.parametrize("kwargs,message", [
    (dict(m_max=2), "m_max must be an integer >= 3, got 2"),
    (dict(m_max=11), r"m_max must be in \[3, 10\], got 11"),
    (dict(n_wedges=5), "n_wedges must be an integer >= 6, got 5"),
    (dict(n_short=2000),
     r"n_short must be an integer in \[1, dim - 1 = 799\] "
     r"\(a wedge needs at least one long direction\), got 2000"),
    (dict(grid_points=20), "grid_points must be an integer >= 21, got 20"),
    (dict(train_lr=0.0), r"train_lr must be in \]0, 2\[, got 0.0"),
    (dict(threshold_momentum=1.0), r"threshold_momentum must be in \[0, 1\[, got 1.0"),
    (dict(success_rate=1.5), r"success_rate must be in \]0, 1\], got 1.5"),
    (dict(tunnel_fraction=-1.0), r"tunnel_fraction must be in \[0, inf\[, got -1.0"),
    (dict(min_growth=0.5), r"min_growth must be in \[1, inf\[, got 0.5"),
    (dict(shared_short_axes=1), "shared_short_axes must be a bool, got 1"),
])
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        E4.Config(**kwargs)


def test_plot_draws(quick_result):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure()
    E4.plot(quick_result, fig)
    assert len(fig.axes) >= 3 and all(ax.has_data() for ax in fig.axes[:3])
