"""E5 on the toy landscape: random sections through an optimum show a widening cone."""

from __future__ import annotations

import math

import numpy as np
import pytest

from landsim import geometry, paths
from landsim.experiments import get
from landsim.results import load_result, save_result
from landsim.spec import random_landscape

E5 = get("E5")


@pytest.fixture(scope="module")
def quick_result():
    return E5.run(E5.quick_config(), seed=0)


def test_claim_holds_at_quick_size(quick_result):
    r = quick_result
    cfg = E5.quick_config()
    m, s = r.metrics, r.series
    assert r.experiment == "E5" and r.kind == "toy"
    assert r.verdict.holds, r.verdict.evidence
    assert m["slope"] > 0 and m["r2"] >= cfg.min_r2
    assert m["min_section_slope"] > 0
    assert s["radii"].shape == (cfg.n_radii,) and s["angles"].shape == (cfg.n_angles,)
    assert s["section_loss"].shape == (cfg.n_radii, cfg.n_angles)
    assert s["widths"].shape == (cfg.n_sections, cfg.n_radii)
    np.testing.assert_allclose(s["mean_width"], s["widths"].mean(axis=0))
    # the optimum's ray (theta = 0) is in the wedge, so every width is positive
    assert np.all(s["section_loss"][:, cfg.n_angles // 2] <= cfg.low_loss)
    assert np.all(s["widths"] > 0)
    # the measured arcs agree with the closed form from the spec to the grid resolution
    assert m["max_width_error_steps"] <= 1.5
    assert m["predicted_slope"] == pytest.approx(m["slope"], rel=0.05)
    # a cone, not the whole plane: the arc is a small part of the circle
    assert np.all(s["widths"] < 0.5 * 2 * math.pi * s["radii"])


def test_a_wedge_that_does_not_widen_fails_the_verdict():
    # eps1 = 0: a slab of constant width, seen as a strip, whose arc width does not grow
    r = E5.run(E5.Config(**{**E5.quick_config().__dict__, "eps1": 0.0}), seed=0)
    assert not r.verdict.holds
    assert r.metrics["slope"] <= 0 or r.metrics["r2"] < 0.9
    assert "R^2" in r.verdict.evidence


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
    e1, e2 = paths.random_plane(60, 2, containing=opt)
    e2s = e2[spec.wedges[k].short_axes]
    radii = np.array([0.5, 1.0, 4.0])
    theta = E5.predicted_half_angle(radii, 0.05, 0.1, float(np.abs(e2s).max()),
                                    float(e2s @ e2s))
    for r, th in zip(radii, theta):
        inside = geometry.loss(spec, r * (np.cos(th * 0.999) * e1 + np.sin(th * 0.999) * e2))
        outside = geometry.loss(spec, r * (np.cos(th * 1.001) * e1 + np.sin(th * 1.001) * e2))
        assert inside == 0.0 and outside > 0.0


def test_line_fit():
    x = np.arange(5.0)
    assert E5.line_fit(x, 2 * x + 1) == pytest.approx((2.0, 1.0, 1.0))
    assert E5.line_fit(x, np.array([0.0, 1.0, 0.0, 1.0, 0.0]))[2] < 0.1
    # a constant width (a strip, not a cone) explains no growth: R^2 = 0, so it fails
    assert E5.line_fit(x, np.full(5, 0.3))[2] == 0.0


def test_round_trip(quick_result, tmp_path):
    back = load_result(save_result(quick_result, tmp_path))
    assert back.metrics == quick_result.metrics
    assert back.verdict == quick_result.verdict
    assert back.series.keys() == quick_result.series.keys()
    for k, v in quick_result.series.items():
        assert np.array_equal(back.series[k], v)


@pytest.mark.parametrize("kwargs,message", [
    (dict(n_short=1000), r"n_short must be in \[1, dim - 1 = 999\] \(the wedge needs a long "
                         r"direction\), got 1000"),
    (dict(n_angles=721), "n_angles must be even"),
    (dict(n_radii=2), "n_radii must be an integer >= 3, got 2"),
    (dict(r_max=0.0), r"r_max must be in \]0, inf\[, got 0.0"),
    (dict(eps1=-0.1), r"eps1 must be in \[0, inf\[, got -0.1"),
    (dict(min_r2=1.5), r"min_r2 must be in \[0, 1\], got 1.5"),
])
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        E5.Config(**kwargs)


def test_plot_draws(quick_result):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure()
    E5.plot(quick_result, fig)
    assert fig.axes
    assert fig.axes[0].collections and fig.axes[1].lines
