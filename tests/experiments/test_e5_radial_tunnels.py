"""E5 on the toy landscape: the low-loss set around an optimum's ray widens with the radius
(a cone), and the same rule fails on strips (eps1 = 0)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from claim_arms import assert_rule_discriminates, run_arms

from landsim import geometry, sections
from landsim.experiments import get
from landsim.results import load_result, save_result
from landsim.seeding import replicate_sequence
from landsim.spec import random_landscape

E5 = get("E5")


@pytest.fixture(scope="module")
def arms():
    return run_arms(E5, E5.quick_config())


# ---- the rule goes both ways ------------------------------------------------------------

def test_rule_passes_on_cones_and_fails_on_strips(arms):
    claim, control = arms
    assert_rule_discriminates(claim, control)
    cfg = E5.quick_config()
    m, c = claim.metrics, control.metrics
    assert m["elasticity"] >= cfg.min_elasticity and m["rank_corr"] >= cfg.min_rank_corr
    # the control fails on the widening itself, not for want of resolved radii
    assert c["judged_radii"] >= cfg.min_judged_radii
    assert abs(c["elasticity"]) < 0.1 and c["elasticity"] < cfg.min_elasticity
    # and the spec's closed form agrees: cone ~ 1 (eps0 > 0 lowers it), strip ~ 0
    assert 0.8 < m["predicted_elasticity"] <= 1.0 and abs(c["predicted_elasticity"]) < 0.05
    assert control.config["eps1"] == 0.0 and claim.config["eps1"] == cfg.eps1


def test_claim_arm_measurements(arms):
    r, cfg = arms[0], E5.quick_config()
    m, s = r.metrics, r.series
    assert r.experiment == "E5" and r.kind == "toy"
    assert s["radii"].shape == (cfg.n_radii,) and s["angles"].shape == (cfg.n_angles,)
    assert s["section_loss"].shape == (cfg.n_radii, cfg.n_angles)
    assert s["widths"].shape == s["arc_cells"].shape == (cfg.n_sections, cfg.n_radii)
    np.testing.assert_allclose(s["mean_width"], s["widths"].mean(axis=0))
    step = 2 * math.pi / cfg.n_angles
    np.testing.assert_allclose(s["widths"], s["radii"] * step * s["arc_cells"])
    # the optimum's ray (theta = 0) is in the wedge, so every width is positive
    assert np.all(s["section_loss"][:, cfg.n_angles // 2] <= cfg.low_loss)
    assert np.all(s["widths"] > 0)
    # the measured arcs agree with the closed form from the spec to the grid resolution
    assert m["max_width_error_steps"] <= 1.5
    assert m["predicted_elasticity"] == pytest.approx(m["elasticity"], abs=0.02)
    # a cone, not the whole plane: the arc is a small part of the circle, and resolved
    assert np.all(s["widths"] < 0.5 * 2 * math.pi * s["radii"])
    assert s["judged"].all() and m["judged_radii"] == cfg.n_radii


def test_same_sequence_gives_bit_identical_results():
    cfg = dataclasses.replace(E5.quick_config(), n_radii=8, n_angles=240, n_sections=2)
    ss = replicate_sequence(7, 3)
    a, b = E5.run(cfg, seed=ss), E5.run(cfg, seed=ss)
    assert a.seed == 7 and a.replicate == 3
    assert a.metrics.keys() == b.metrics.keys()
    for k in a.metrics:
        assert a.metrics[k] == b.metrics[k] or (math.isnan(a.metrics[k])
                                                and math.isnan(b.metrics[k]))
    for k, v in a.series.items():
        assert np.array_equal(v, b.series[k]), k
    other = E5.run(cfg, seed=replicate_sequence(7, 4))
    assert not np.array_equal(other.series["section_loss"], a.series["section_loss"])


def test_control_config_changes_the_world_not_the_rule():
    for cfg in (E5.Config(), E5.quick_config(), E5.Config(min_elasticity=0.7, low_loss=0.0)):
        ctl = E5.control_config(cfg)
        for name in E5.RULE_FIELDS:
            assert getattr(ctl, name) == getattr(cfg, name), name
        assert ctl.eps1 == 0.0 and ctl.eps0 == cfg.eps0 and ctl.dim == cfg.dim
    fields = {f.name for f in dataclasses.fields(E5.Config)}
    assert set(E5.RULE_FIELDS) <= fields and 3 <= len(E5.KEY_METRICS) <= 6
    assert E5.KEY_METRICS[0] == "elasticity" and E5.CONTROL


# ---- the pieces of the rule -------------------------------------------------------------

def test_log_slope_of_strips_cones_and_square_roots():
    r = np.array([1.0, 2.0, 4.0, 8.0])
    assert E5.log_slope(r, np.full(4, 0.3)) == pytest.approx(0.0, abs=1e-12)
    assert E5.log_slope(r, 0.2 * r) == pytest.approx(1.0)
    assert E5.log_slope(r, np.sqrt(r)) == pytest.approx(0.5)
    assert E5.log_slope(r, 1.0 / r) == pytest.approx(-1.0)  # a narrowing set


def test_rank_corr_both_directions():
    x = np.arange(6.0)
    assert E5.rank_corr(x, x**2) == pytest.approx(1.0)
    assert E5.rank_corr(x, -x) == pytest.approx(-1.0)
    assert E5.rank_corr(x, np.full(6, 2.0)) == 0.0  # a strip orders nothing
    assert E5.rank_corr(x, np.array([0.0, 2.0, 1.0, 3.0, 5.0, 4.0])) == pytest.approx(
        1 - 6 * 4 / (6 * 35))  # two swapped pairs, sum d^2 = 4: 1 - 6 sum d^2 / (n (n^2 - 1))


def test_onset_robust_takes_the_smaller_value():
    r = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    onset_only = np.array([0.01, 1.0, 1.0, 1.0, 1.0])  # all the growth at the innermost radius
    assert E5.log_slope(r, onset_only) > 1.0
    assert E5.onset_robust(E5.log_slope, r, onset_only) == pytest.approx(0.0, abs=1e-12)
    assert E5.onset_robust(E5.log_slope, r, 2 * r) == pytest.approx(1.0)


def test_judged_mask_needs_a_low_loss_ray_and_a_resolved_arc():
    cells = np.array([[0, 3, 8, 9, 12, 16],
                      [0, 9, 8, 7, 12, 16]])
    ray_low = np.array([False, True, True, True, False, True])
    # radius 1: 3 cells in one section; 3: 7 cells; 4: ray not low; 5: the whole circle
    np.testing.assert_array_equal(E5.judged_mask(cells, ray_low, 16, 8),
                                  [False, False, True, False, False, False])


def _judge(widths, cells, ray_low=None, **rule):
    cfg = dataclasses.replace(E5.quick_config(), **rule)
    widths = np.atleast_2d(widths)
    ray_low = np.ones(widths.shape[1], dtype=bool) if ray_low is None else ray_low
    return E5.judge_widening(cfg, RADII, widths, np.atleast_2d(cells), ray_low, 1000)


RADII = np.arange(1.0, 9.0)


def test_judge_passes_a_cone():
    j = _judge(np.vstack([0.1 * RADII, 0.12 * RADII]), np.full((2, 8), 50))
    assert j.verdict.holds, j.verdict.evidence
    assert j.metrics["elasticity"] == pytest.approx(1.0)
    assert j.metrics["rank_corr"] == pytest.approx(1.0) and j.metrics["judged_radii"] == 8
    assert "elasticity 1.000" in j.verdict.evidence and "R^2" in j.verdict.evidence


def test_judge_fails_a_strip_a_non_monotone_set_and_a_shrinking_one():
    cells = np.full((1, 8), 50)
    strip = _judge(np.full(8, 0.4), cells)
    assert not strip.verdict.holds and strip.metrics["elasticity"] == pytest.approx(0.0)
    assert "does not widen enough" in strip.verdict.evidence
    # grows overall (elasticity >= 0.5) but zig-zags: not monotone
    zigzag = _judge(np.array([1.0, 3.0, 2.0, 4.0, 3.0, 5.0, 4.0, 6.0]), cells)
    assert zigzag.metrics["elasticity"] >= 0.5 and zigzag.metrics["rank_corr"] < 0.9
    assert not zigzag.verdict.holds and "not monotone" in zigzag.verdict.evidence
    shrinking = _judge(1.0 / RADII, cells)
    assert not shrinking.verdict.holds


def test_judge_fails_where_only_the_grid_widens():
    # a strip narrower than the grid: one cell at every radius, width r x step grows like a
    # cone, but no radius is judged
    step = 2 * math.pi / 1000
    j = _judge(RADII * step, np.ones((1, 8), dtype=int))
    assert not j.verdict.holds and j.metrics["judged_radii"] == 0
    assert math.isnan(j.metrics["elasticity"]) and "only 0 of 8 radii" in j.verdict.evidence
    # a ray that is never low-loss: no tunnel at all
    none = _judge(np.zeros(8), np.zeros((1, 8), dtype=int), np.zeros(8, dtype=bool))
    assert not none.verdict.holds and "low-loss at 0 radii" in none.verdict.evidence


def test_judge_is_onset_robust():
    # the growth sits in the innermost judged radius only: fails; a real cone passes with
    # or without it
    w = np.array([0.05, 1.0, 1.0, 1.02, 1.03, 1.03, 1.05, 1.06])
    j = _judge(w, np.full((1, 8), 50))
    assert j.metrics["elasticity_all"] >= 0.5 and j.metrics["elasticity"] < 0.5
    assert not j.verdict.holds
    few = _judge(0.1 * RADII, np.array([[0, 0, 0, 0, 0, 50, 50, 50]]))
    assert not few.verdict.holds and few.metrics["judged_radii"] == 3  # below 4


# ---- geometry helpers -------------------------------------------------------------------

def test_arc_cells_wraps_around_the_circle():
    low = np.array([
        [True, False, False, True, True, False],  # the run 3..4, centre 3
        [True, True, False, False, False, True],  # wraps: 5, 0, 1 ... centre 3 is False
        [True, True, True, True, True, True],  # everything
        [True, True, False, True, True, True],  # wraps: 3, 4, 5, 0, 1
    ])
    np.testing.assert_array_equal(E5.arc_cells(low, 3), [2, 0, 6, 5])
    np.testing.assert_array_equal(E5.arc_cells(low, 0), [1, 3, 6, 5])


def test_predicted_half_angle_matches_brute_force():
    spec = random_landscape(60, 1, 8, eps0=0.05, eps1=0.1, seed=4)
    k = 0
    opt = geometry.intersection_point(spec, [k], 3.0, seed=1)
    e1, e2 = sections.random_plane(60, 2, containing=opt)
    e2s = e2[spec.wedges[k].short_axes]
    radii = np.array([0.5, 1.0, 4.0])
    theta = E5.predicted_half_angle(radii, 0.05, 0.1, float(np.abs(e2s).max()),
                                    float(e2s @ e2s))
    for r, th in zip(radii, theta):
        inside = geometry.loss(spec, r * (np.cos(th * 0.999) * e1 + np.sin(th * 0.999) * e2))
        outside = geometry.loss(spec, r * (np.cos(th * 1.001) * e1 + np.sin(th * 1.001) * e2))
        assert inside == 0.0 and outside > 0.0


# ---- records, validation, figure --------------------------------------------------------

def test_round_trip(arms, tmp_path):
    for result in arms:
        back = load_result(save_result(result, tmp_path))
        assert back.metrics.keys() == result.metrics.keys()
        for k, v in result.metrics.items():
            assert back.metrics[k] == v or (math.isnan(v) and math.isnan(back.metrics[k]))
        assert back.verdict == result.verdict and back.arm == result.arm
        for k, v in result.series.items():
            assert np.array_equal(back.series[k], v)


@pytest.mark.parametrize("kwargs,message", [
    (dict(n_short=1000), r"n_short must be an integer in \[1, dim - 1 = 999\] \(a wedge "
                         r"needs at least one long direction\), got 1000"),
    (dict(n_angles=721), "n_angles must be even"),
    (dict(n_radii=2), "n_radii must be an integer >= 3, got 2"),
    (dict(r_max=0.0), r"r_max must be in \]0, inf\[, got 0.0"),
    (dict(eps1=-0.1), r"eps1 must be in \[0, inf\[, got -0.1"),
    (dict(min_arc_cells=0), "min_arc_cells must be an integer >= 1, got 0"),
    (dict(min_arc_cells=960), r"min_arc_cells must be in \[1, n_angles - 1 = 959\], got 960"),
    (dict(min_judged_radii=2), "min_judged_radii must be an integer >= 3, got 2"),
    (dict(min_judged_radii=33), r"min_judged_radii must be in \[3, n_radii = 32\], got 33"),
    (dict(min_elasticity=0.0), r"min_elasticity must be in \]0, inf\[, got 0.0"),
    (dict(min_rank_corr=1.5), r"min_rank_corr must be in \]0, 1\], got 1.5"),
    (dict(low_loss=-1.0), r"low_loss must be in \[0, inf\[, got -1.0"),
])
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        E5.Config(**kwargs)


def test_plot_draws(arms):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    for result in arms:
        fig = Figure()
        E5.plot(result, fig)
        assert fig.axes
        assert fig.axes[0].collections and fig.axes[1].lines
