"""E2 on the toy landscape: random-subspace training, threshold dimension against s."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import replace

import numpy as np
import pytest
from claim_arms import assert_rule_discriminates, run_arms

from landsim import subspace
from landsim.experiments import get
from landsim.results import load_result, save_result
from landsim.seeding import replicate_sequence

E2 = get("E2")

#: A config small enough for a few seconds per arm (narrow wedges: eps1 = 0.002).
SMALL = E2.Config(dim=200, n_short=(10, 20, 40))


@pytest.fixture(scope="module")
def progress_calls():
    return []


@pytest.fixture(scope="module")
def arms(progress_calls):
    claim, control = run_arms(E2, SMALL, seed=0, replicate=0)
    progress = E2.run(SMALL, seed=replicate_sequence(0, 0),
                      progress=lambda f, msg: progress_calls.append((f, msg)))
    return claim, control, progress


def first_reaching(dims, rates, required):
    """Smallest d whose rate is >= required, NaN if none (independent of the module)."""
    ok = np.flatnonzero(np.asarray(rates) >= required)
    return float(dims[ok[0]]) if ok.size else math.nan


# ---------------------------------------------------------------- both directions
def test_rule_passes_on_narrow_wedges_and_fails_on_wide_ones(arms):
    claim, control, _ = arms
    assert_rule_discriminates(claim, control)
    # the control is beyond the radial-escape scale for every s, the claim far below it
    assert claim.metrics["max_eps1_over_escape"] < 0.1
    assert control.metrics["min_eps1_over_escape"] >= SMALL.control_escape_multiple - 1e-12
    # wide wedges: the thresholds collapse below the band
    assert control.metrics["min_threshold_ratio"] < SMALL.band_low


def test_control_changes_the_world_not_the_rule():
    for cfg in (E2.Config(), E2.quick_config(), SMALL):
        ctrl = E2.control_config(cfg)
        for name in E2.RULE_FIELDS:
            assert getattr(ctrl, name) == getattr(cfg, name)
        changed = {f.name for f in dataclasses.fields(cfg)
                   if getattr(ctrl, f.name) != getattr(cfg, f.name)}
        assert changed == {"eps1"}
        assert ctrl.eps1 == pytest.approx(E2.control_eps1(cfg))


def test_control_eps1_is_beyond_the_escape_scale_of_every_s():
    cfg = E2.Config()
    escapes = [E2.escape_eps1(cfg.dim, s) for s in cfg.n_short]
    assert E2.control_eps1(cfg) == pytest.approx(2.0 * max(escapes))
    assert all(E2.control_eps1(cfg) >= 2.0 * e for e in escapes)
    assert all(cfg.eps1 <= 0.05 * e for e in escapes)  # the claim arm is narrow


def test_key_metrics_and_rule_fields_exist(arms):
    claim, _, _ = arms
    assert 3 <= len(E2.KEY_METRICS) <= 6
    assert set(E2.KEY_METRICS) <= set(claim.metrics)
    fields = {f.name for f in dataclasses.fields(E2.Config)}
    assert set(E2.RULE_FIELDS) <= fields
    assert isinstance(E2.CONTROL, str) and E2.CONTROL


# ---------------------------------------------------------------- reproducibility
def test_same_sequence_gives_bit_identical_results(arms):
    claim, _, progress = arms
    # the progress run used the same SeedSequence as the claim arm
    assert claim.metrics.keys() == progress.metrics.keys()
    for k, v in claim.metrics.items():
        assert v == progress.metrics[k] or (math.isnan(v) and math.isnan(progress.metrics[k]))
    for k, v in claim.series.items():
        np.testing.assert_array_equal(progress.series[k], v)
    assert claim.verdict == progress.verdict
    assert (claim.seed, claim.replicate) == (0, 0)


def test_replicates_draw_different_landscapes_and_starts():
    cfg = replace(SMALL, n_short=(10, 20), steps=20)
    a = E2.run(cfg, seed=replicate_sequence(0, 0))
    b = E2.run(cfg, seed=replicate_sequence(0, 1))
    assert b.replicate == 1
    assert not np.array_equal(a.series["final_loss"], b.series["final_loss"])


# ---------------------------------------------------------------- the measurement
def test_series_shapes_and_progress(arms, progress_calls):
    r = arms[0]
    s = r.series
    assert r.experiment == "E2" and r.kind == "toy"
    n_s, n_d = len(SMALL.n_short), len(SMALL.d_ratios)
    np.testing.assert_array_equal(s["n_short"], SMALL.n_short)
    assert s["dims"].shape == s["success_rate"].shape == (n_s, n_d)
    assert s["final_loss"].shape == (n_s, n_d, SMALL.n_seeds)
    # a rate is a count of successes over n_seeds, and agrees with the final losses
    np.testing.assert_allclose(s["success_rate"] * SMALL.n_seeds,
                               np.round(s["success_rate"] * SMALL.n_seeds))
    np.testing.assert_allclose(s["success_rate"],
                               np.mean(s["final_loss"] <= SMALL.target_loss, axis=2))
    assert np.all(s["final_loss"] >= 0)
    fractions = [f for f, _ in progress_calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_threshold_is_the_first_d_reaching_the_rate(arms):
    for r in arms[:2]:
        s = r.series
        for i, n in enumerate(s["n_short"]):
            np.testing.assert_array_equal(s["dims"][i], E2.dimension_grid(int(n),
                                                                           SMALL.d_ratios))
            expected = first_reaching(s["dims"][i], s["success_rate"][i], SMALL.success_rate)
            assert s["threshold"][i] == expected or (math.isnan(expected)
                                                     and math.isnan(s["threshold"][i]))
        np.testing.assert_allclose(s["threshold_ratio"], s["threshold"] / s["n_short"])


def test_narrow_wedges_need_about_s_dimensions(arms):
    # narrow regime: a subspace of half the short count cannot meet an n-dimensional wedge
    # (d + n < D), one of twice the short count always trains
    s = arms[0].series
    for i, n in enumerate(s["n_short"]):
        dims, rates = s["dims"][i], s["success_rate"][i]
        assert np.all(rates[dims <= n // 2] == 0.0)
        assert np.all(rates[dims >= 2 * n] == 1.0)


def test_fit_equals_polyfit_of_the_series(arms):
    s, m = arms[0].series, arms[0].metrics
    slope, intercept = np.polyfit(s["n_short"].astype(float), s["threshold"], 1)
    pred = slope * s["n_short"] + intercept
    r2 = 1 - np.sum((s["threshold"] - pred) ** 2) / np.sum(
        (s["threshold"] - s["threshold"].mean()) ** 2)
    assert m["fit_slope"] == pytest.approx(slope, rel=1e-9)
    assert m["fit_intercept"] == pytest.approx(intercept, abs=1e-9 * s["threshold"].max())
    assert m["fit_r2"] == pytest.approx(r2, rel=1e-9)
    assert m["fit_slope"] > 0


def test_verdict_agrees_with_the_stored_numbers(arms):
    for r in arms[:2]:
        s, m, c = r.series, r.metrics, r.config
        th, ratio = s["threshold"], s["threshold"] / s["n_short"]
        assert r.verdict.holds == E2.verdict_holds(s["n_short"], th, c["band_low"],
                                                   c["band_high"])
        assert m["min_threshold_ratio"] == pytest.approx(np.nanmin(ratio))
        assert m["max_threshold_ratio"] == pytest.approx(np.nanmax(ratio))
        assert m["n_thresholds_found"] == np.isfinite(th).sum()
        for x in th[np.isfinite(th)]:
            assert f"{x:.0f}" in r.verdict.evidence
        assert f"[{c['band_low']:g}, {c['band_high']:g}]" in r.verdict.rule


def test_missing_thresholds_fail_the_verdict():
    # one step cannot reach the target: no threshold is found, and the claim is not held
    cfg = replace(SMALL, steps=1, n_short=(10, 20))
    r = E2.run(cfg, seed=0)
    assert not r.verdict.holds
    assert np.all(np.isnan(r.series["threshold"])) and r.metrics["n_thresholds_found"] == 0
    assert math.isnan(r.metrics["fit_slope"])
    assert "no threshold" in r.verdict.evidence


# ---------------------------------------------------------------- pieces of the rule
def test_verdict_rule():
    s = [10, 20, 40]
    assert E2.verdict_holds(s, [11, 22, 44], 0.5, 2.0)
    assert not E2.verdict_holds(s, [11, 22, math.nan], 0.5, 2.0)  # one not found
    assert not E2.verdict_holds(s, [11, 22, 22], 0.5, 2.0)  # not strictly increasing
    assert not E2.verdict_holds(s, [4, 22, 44], 0.5, 2.0)  # below the band
    assert not E2.verdict_holds(s, [11, 22, 81], 0.5, 2.0)  # above the band
    assert E2.verdict_holds(s, [5, 10, 80], 0.5, 2.0)  # the band's edges count as inside
    assert not E2.verdict_holds(s, [1, 1, 1], 0.5, 2.0)  # the wide-wedge collapse


def test_escape_scale():
    assert E2.escape_eps1(1000, 100) == pytest.approx(math.sqrt(2 * math.log(100) / 900))
    # it grows with s: the largest s sets the control
    assert E2.escape_eps1(1000, 400) > E2.escape_eps1(1000, 50)


def test_dimension_grid():
    np.testing.assert_array_equal(E2.dimension_grid(100, (0.01, 0.5, 1.0, 2.0)),
                                  [1, 50, 100, 200])
    # rounding collisions are lifted to keep the grid strictly increasing
    np.testing.assert_array_equal(E2.dimension_grid(10, (0.01, 0.03, 0.1, 0.12, 1.0)),
                                  [1, 2, 3, 4, 10])


def test_step_size_matches_the_largest_curvature():
    # 2 P_S^T P_S along z: its top eigenvalue is ~ 2 (sqrt d + sqrt s)^2 / D
    dim, s, d = 1000, 100, 200
    P = subspace.subspace_projection(dim, d, "dense", seed=3)
    top = 2 * np.linalg.eigvalsh(P[:s].T @ P[:s]).max()
    lr = E2.step_size(dim, s, d, 0.5)
    assert 0.8 < lr * top < 1.2
    assert lr * top < 2 * (1 + 0.9)  # heavy ball with momentum 0.9 is stable


# ---------------------------------------------------------------- storage, config, plot
def test_round_trip(arms, tmp_path):
    r = arms[1]
    back = load_result(save_result(r, tmp_path))
    assert back.metrics.keys() == r.metrics.keys()
    assert back.verdict == r.verdict and back.arm == "control"
    assert back.config == r.config
    assert E2.Config(**back.config) == E2.control_config(SMALL)
    for k, v in r.series.items():
        np.testing.assert_array_equal(back.series[k], v)


@pytest.mark.parametrize("kwargs,message", [
    (dict(dim=1), "dim must be an integer >= 2, got 1"),
    (dict(n_short=(100,)), r"n_short must be a tuple of at least 2 values, got \(100,\)"),
    (dict(n_short=(100, 50)), r"n_short must be strictly increasing, got \(100, 50\)"),
    (dict(n_short=(50, 1000)),
     r"n_short\[1\] must be an integer in \[1, dim - 1 = 999\].*got 1000"),
    (dict(eps1=-0.1), r"eps1 must be in \[0, inf\[, got -0.1"),
    (dict(radius=0.0), r"radius must be in \]0, inf\[, got 0.0"),
    (dict(control_escape_multiple=0.0), r"control_escape_multiple must be in \]0, inf\["),
    (dict(momentum=1.0), r"momentum must be in \[0, 1\[, got 1.0"),
    (dict(success_rate=1.5), r"success_rate must be in \]0, 1\], got 1.5"),
    (dict(band_high=0.4), r"band_high must be in \]0.5, inf\[, got 0.4"),
    (dict(d_ratios=(0.6, 1.0, 2.0)), r"d_ratios must start below band_low = 0.5.*got 0.6"),
    (dict(d_ratios=(0.1, 1.0, 1.5)), r"d_ratios must reach band_high = 2.*got 1.5"),
    (dict(d_ratios=(0.1, 1.0, 3.0)), r"d_ratios\[-1\] x s must be <= dim = 1000, got 3.0"),
    (dict(d_ratios=(0.1, 0.0, 2.0)), r"d_ratios\[1\] must be in \]0, inf\[, got 0.0"),
])
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        E2.Config(**kwargs)


def test_plot_draws(arms):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    for r in arms[:2]:
        fig = Figure()
        E2.plot(r, fig)
        assert len(fig.axes) == 2
        assert all(ax.lines for ax in fig.axes)
