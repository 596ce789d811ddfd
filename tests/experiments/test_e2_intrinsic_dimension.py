"""E2 on the toy landscape: random-subspace training, threshold dimension against s."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from landsim import descent
from landsim.experiments import get
from landsim.results import load_result, save_result

E2 = get("E2")


@pytest.fixture(scope="module")
def progress_calls():
    return []


@pytest.fixture(scope="module")
def quick_result(progress_calls):
    return E2.run(E2.quick_config(), seed=0,
                  progress=lambda f, msg: progress_calls.append((f, msg)))


def first_reaching(dims, rates, required):
    """Smallest d whose rate is >= required, NaN if none (independent of the module)."""
    ok = np.flatnonzero(np.asarray(rates) >= required)
    return float(dims[ok[0]]) if ok.size else math.nan


def test_claim_holds_at_quick_size(quick_result, progress_calls):
    r = quick_result
    cfg = E2.quick_config()
    s = r.series
    assert r.experiment == "E2" and r.kind == "toy"
    assert r.verdict.holds, r.verdict.evidence
    n_s, n_d = len(cfg.n_short), len(cfg.d_ratios)
    np.testing.assert_array_equal(s["n_short"], cfg.n_short)
    assert s["dims"].shape == s["success_rate"].shape == (n_s, n_d)
    assert s["final_loss"].shape == (n_s, n_d, cfg.n_seeds)
    # a rate is a count of successes over n_seeds, and agrees with the final losses
    np.testing.assert_allclose(s["success_rate"] * cfg.n_seeds,
                               np.round(s["success_rate"] * cfg.n_seeds))
    np.testing.assert_allclose(s["success_rate"],
                               np.mean(s["final_loss"] <= cfg.target_loss, axis=2))
    assert np.all(s["final_loss"] >= 0)
    # progress advances to 1
    fractions = [f for f, _ in progress_calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_threshold_is_the_first_d_reaching_the_rate(quick_result):
    s = quick_result.series
    cfg = E2.quick_config()
    for i, n in enumerate(s["n_short"]):
        np.testing.assert_array_equal(s["dims"][i], E2.dimension_grid(int(n), cfg.d_ratios))
        expected = first_reaching(s["dims"][i], s["success_rate"][i], cfg.success_rate)
        assert s["threshold"][i] == expected
    np.testing.assert_allclose(s["threshold_ratio"], s["threshold"] / s["n_short"])
    for j in range(len(cfg.sweep_eps1)):
        assert s["sweep_threshold"][j] == first_reaching(
            s["sweep_dims"], s["sweep_success_rate"][j], cfg.success_rate)


def test_narrow_wedges_need_about_s_dimensions(quick_result):
    # narrow regime: a subspace of half the short count cannot meet an n-dimensional wedge
    # (d + n < D), one of twice the short count always trains
    s = quick_result.series
    assert quick_result.metrics["max_eps1_over_escape"] < 0.1
    for i, n in enumerate(s["n_short"]):
        dims, rates = s["dims"][i], s["success_rate"][i]
        assert np.all(rates[dims <= n // 2] == 0.0)
        assert np.all(rates[dims >= 2 * n] == 1.0)


def test_fit_equals_polyfit_of_the_series(quick_result):
    s, m = quick_result.series, quick_result.metrics
    slope, intercept = np.polyfit(s["n_short"].astype(float), s["threshold"], 1)
    pred = slope * s["n_short"] + intercept
    r2 = 1 - np.sum((s["threshold"] - pred) ** 2) / np.sum(
        (s["threshold"] - s["threshold"].mean()) ** 2)
    assert m["fit_slope"] == pytest.approx(slope, rel=1e-9)
    assert m["fit_intercept"] == pytest.approx(intercept, abs=1e-9 * s["threshold"].max())
    assert m["fit_r2"] == pytest.approx(r2, rel=1e-9)
    assert m["fit_slope"] > 0


def test_verdict_agrees_with_the_stored_numbers(quick_result):
    r = quick_result
    s, m, c = r.series, r.metrics, r.config
    th, ratio = s["threshold"], s["threshold"] / s["n_short"]
    recomputed = bool(np.all(np.isfinite(th)) and np.all(np.diff(th) > 0)
                      and np.all((ratio >= c["band_low"]) & (ratio <= c["band_high"])))
    assert r.verdict.holds == recomputed
    assert m["thresholds_increase"] == float(np.all(np.diff(th) > 0))
    assert m["min_threshold_ratio"] == pytest.approx(ratio.min())
    assert m["max_threshold_ratio"] == pytest.approx(ratio.max())
    assert m["n_thresholds_found"] == np.isfinite(th).sum()
    for x in th:
        assert f"{x:.0f}" in r.verdict.evidence
    assert f"[{c['band_low']:g}, {c['band_high']:g}]" in r.verdict.rule


def test_eps1_sweep_falls_as_the_wedges_widen(quick_result):
    s, m, c = quick_result.series, quick_result.metrics, quick_result.config
    th = s["sweep_threshold"]
    assert s["sweep_success_rate"].shape == (len(c["sweep_eps1"]), s["sweep_dims"].size)
    assert m["sweep_threshold_narrowest"] == th[0] and m["sweep_threshold_widest"] == th[-1]
    assert m["sweep_threshold_falls"] == float(th[-1] < th[0]) == 1.0
    assert m["sweep_threshold_non_increasing"] == float(np.all(np.diff(th) <= 0))
    assert m["sweep_escape_eps1"] == pytest.approx(
        math.sqrt(2 * math.log(c["sweep_n_short"]) / (c["dim"] - c["sweep_n_short"])))
    # beyond the radial-escape scale the threshold collapses far below s
    assert c["sweep_eps1"][-1] > m["sweep_escape_eps1"]
    assert th[-1] <= 0.1 * c["sweep_n_short"]


def test_wide_wedges_fail_the_verdict():
    # eps1 above the escape scale for every s: the threshold collapses far below s / 2
    cfg = replace(E2.quick_config(), eps1=0.2, sweep_eps1=(0.2, 0.3))
    r = E2.run(cfg, seed=0)
    assert not r.verdict.holds
    assert r.metrics["max_eps1_over_escape"] > 1
    assert r.metrics["max_threshold_ratio"] < cfg.band_low
    assert "not all inside the band" in r.verdict.evidence


def test_missing_thresholds_fail_the_verdict():
    # one step cannot reach the target: no threshold is found, and the claim is not held
    cfg = replace(E2.quick_config(), steps=1, n_short=(20, 40), sweep_eps1=(0.002, 0.02))
    r = E2.run(cfg, seed=0)
    assert not r.verdict.holds
    assert np.all(np.isnan(r.series["threshold"])) and r.metrics["n_thresholds_found"] == 0
    assert math.isnan(r.metrics["fit_slope"])
    assert "no threshold" in r.verdict.evidence


def test_verdict_rule():
    s = [10, 20, 40]
    assert E2.verdict_holds(s, [11, 22, 44], 0.5, 2.0)
    assert not E2.verdict_holds(s, [11, 22, math.nan], 0.5, 2.0)  # one not found
    assert not E2.verdict_holds(s, [11, 22, 22], 0.5, 2.0)  # not strictly increasing
    assert not E2.verdict_holds(s, [4, 22, 44], 0.5, 2.0)  # below the band
    assert not E2.verdict_holds(s, [11, 22, 81], 0.5, 2.0)  # above the band
    assert E2.verdict_holds(s, [5, 10, 80], 0.5, 2.0)  # the band's edges count as inside


def test_dimension_grid():
    np.testing.assert_array_equal(E2.dimension_grid(100, (0.01, 0.5, 1.0, 2.0)),
                                  [1, 50, 100, 200])
    # rounding collisions are lifted to keep the grid strictly increasing
    np.testing.assert_array_equal(E2.dimension_grid(10, (0.01, 0.03, 0.1, 0.12, 1.0)),
                                  [1, 2, 3, 4, 10])


def test_step_size_matches_the_largest_curvature():
    # 2 P_S^T P_S along z: its top eigenvalue is ~ 2 (sqrt d + sqrt s)^2 / D
    dim, s, d = 1000, 100, 200
    P = descent.subspace_projection(dim, d, "dense", seed=3)
    top = 2 * np.linalg.eigvalsh(P[:s].T @ P[:s]).max()
    lr = E2.step_size(dim, s, d, 0.5)
    assert 0.8 < lr * top < 1.2
    assert lr * top < 2 * (1 + 0.9)  # heavy ball with momentum 0.9 is stable


def test_round_trip(quick_result, tmp_path):
    back = load_result(save_result(quick_result, tmp_path))
    assert back.metrics == quick_result.metrics
    assert back.verdict == quick_result.verdict
    assert back.config == quick_result.config
    for k, v in quick_result.series.items():
        np.testing.assert_array_equal(back.series[k], v)


@pytest.mark.parametrize("kwargs,message", [
    (dict(dim=1), "dim must be an integer >= 2, got 1"),
    (dict(n_short=(100,)), r"n_short must be a tuple of at least 2 values, got \(100,\)"),
    (dict(n_short=(100, 50)), r"n_short must be strictly increasing, got \(100, 50\)"),
    (dict(n_short=(50, 1000)), r"n_short must be in \[1, dim - 1 = 999\].*got 1000"),
    (dict(sweep_n_short=0), "sweep_n_short must be an integer >= 1, got 0"),
    (dict(eps1=-0.1), r"eps1 must be in \[0, inf\[, got -0.1"),
    (dict(radius=0.0), r"radius must be in \]0, inf\[, got 0.0"),
    (dict(momentum=1.0), r"momentum must be in \[0, 1\[, got 1.0"),
    (dict(success_rate=1.5), r"success_rate must be in \]0, 1\], got 1.5"),
    (dict(band_high=0.4), r"band_high must be in \]0.5, inf\[, got 0.4"),
    (dict(d_ratios=(0.6, 1.0, 2.0)), r"d_ratios must start below band_low = 0.5.*got 0.6"),
    (dict(d_ratios=(0.1, 1.0, 1.5)), r"d_ratios must reach band_high = 2.*got 1.5"),
    (dict(d_ratios=(0.1, 1.0, 3.0)), r"d_ratios\[-1\] x s must be <= dim = 1000, got 3.0"),
    (dict(d_ratios=(0.1, 0.0, 2.0)), r"d_ratios\[1\] must be in \]0, inf\[, got 0.0"),
    (dict(sweep_eps1=(0.01,)), r"sweep_eps1 must be a tuple of at least 2 values"),
])
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        E2.Config(**kwargs)


def test_plot_draws(quick_result):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure()
    E2.plot(quick_result, fig)
    assert len(fig.axes) == 3
    assert all(ax.lines for ax in fig.axes)
