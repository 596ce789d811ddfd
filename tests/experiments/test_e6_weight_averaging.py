"""E6 on the toy landscape: averaging SGD snapshots works within one wedge, not across."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from landsim import geometry
from landsim.experiments import get
from landsim.results import load_result, save_result
from landsim.spec import random_landscape

E6 = get("E6")


@pytest.fixture(scope="module")
def quick_result():
    return E6.run(E6.quick_config(), seed=0)


def test_claim_holds_at_quick_size(quick_result):
    r = quick_result
    cfg = E6.quick_config()
    m, s = r.metrics, r.series
    assert r.experiment == "E6" and r.kind == "toy"
    assert r.verdict.holds, r.verdict.evidence
    assert s["snapshot_loss"].shape == (cfg.n_runs, cfg.n_snapshots)
    assert s["snapshot_depth"].shape == (cfg.n_runs, cfg.n_snapshots)
    assert s["within_loss"].shape == (cfg.n_runs,)
    # the runs reached a wedge and stayed in it
    assert m["runs_in_one_wedge"] == 1.0
    assert m["snapshot_loss_max"] < 1e-2 * m["start_loss"]
    np.testing.assert_array_equal(s["within_wedge"], s["snapshot_wedge"][:, -1])
    # within: low loss and deeper than the snapshots, run by run
    assert m["within_loss_max"] <= m["low_loss_threshold"]
    assert np.all(s["within_depth"] > s["snapshot_depth"].mean(axis=1))
    assert m["min_depth_gain"] > 0 and m["within_depth_min"] > 0
    # across: high loss, outside every wedge
    assert m["across_optima"] >= 2
    assert m["across_loss"] > m["high_loss_threshold"]
    assert m["within_loss_max"] < m["across_loss"]
    assert m["across_depth"] < 0 < m["within_depth_min"]
    # the optima themselves are low-loss: the loss comes from averaging them
    assert m["across_optima_loss_max"] < m["high_loss_threshold"]


def test_averaging_across_wedges_fails_the_claim(quick_result):
    cfg = dataclasses.replace(E6.quick_config(), average_across_wedges_as_within=True)
    r = E6.run(cfg, seed=0)
    m = r.metrics
    assert not r.verdict.holds
    assert m["within_loss_max"] == pytest.approx(m["across_loss"])
    assert m["within_loss_max"] > m["low_loss_threshold"]
    assert m["min_depth_gain"] < 0
    # the SGD part is the same run: same snapshots as the honest result
    np.testing.assert_array_equal(r.series["snapshot_loss"],
                                  quick_result.series["snapshot_loss"])
    ev = r.verdict.evidence
    assert "cross-wedge average" in ev
    assert f"{m['within_loss_max']:.3g}" in ev and f"{m['across_loss']:.3g}" in ev
    assert f"0/{cfg.n_runs} deeper" in ev


def test_wedge_depth_is_the_margin_to_the_boundary():
    spec = random_landscape(40, 2, 5, eps0=0.1, eps1=0.05, seed=2)
    rng = np.random.default_rng(3)
    X = rng.normal(0.0, 1.0, (50, 40))
    inside = geometry.project_onto_wedge(spec, 1, X)
    axes = spec.wedges[1].short_axes
    inside[:, axes] *= 0.5  # strictly inside wedge 1 (the long radius is unchanged)
    pts = np.concatenate([X, inside])
    at = E6.wedge_depth(spec, pts)
    ev = geometry.evaluate(spec, pts, grad=False)
    np.testing.assert_array_equal(at.argmin, ev.argmin)
    np.testing.assert_array_equal(at.loss, ev.loss)
    # depth > 0 exactly where the arg-min wedge has zero loss (no point on a boundary here)
    np.testing.assert_array_equal(at.depth > 0, ev.loss == 0)
    assert np.all(at.depth[50:] > 0) and np.all(at.depth[:50] < 0)
    # by hand, in the arg-min wedge of each point
    for i in (0, 50, 51):
        w = spec.wedges[int(at.argmin[i])]
        u = pts[i, w.short_axes]
        r = np.sqrt(pts[i] @ pts[i] - u @ u)
        assert at.width[i] == pytest.approx(w.eps0 + w.eps1 * r, rel=1e-12)
        assert at.depth[i] == pytest.approx(w.eps0 + w.eps1 * r - np.abs(u).max(), rel=1e-12)


def test_round_trip(quick_result, tmp_path):
    back = load_result(save_result(quick_result, tmp_path))
    assert back.metrics == quick_result.metrics
    assert back.verdict == quick_result.verdict
    assert back.config == quick_result.config
    assert back.series.keys() == quick_result.series.keys()
    for k, v in quick_result.series.items():
        assert np.array_equal(back.series[k], v)


@pytest.mark.parametrize("kwargs,message", [
    (dict(n_short=2000), r"n_short must be in \[1, dim - 1 = 1999\] \(the wedge needs a long "
                         r"direction\), got 2000"),
    (dict(n_snapshots=1), "n_snapshots must be an integer >= 2, got 1"),
    (dict(noise_std=0.0), r"noise_std must be in \]0, inf\[, got 0.0"),
    (dict(lr=-0.1), r"lr must be in \]0, inf\[, got -0.1"),
    (dict(low_loss_fraction=0.0), r"low_loss_fraction must be in \]0, inf\[, got 0.0"),
    (dict(average_across_wedges_as_within=1), "average_across_wedges_as_within must be a bool"),
])
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        E6.Config(**kwargs)


def test_plot_draws(quick_result):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure()
    E6.plot(quick_result, fig)
    assert fig.axes and len(fig.axes) == 2
    assert fig.axes[0].collections and fig.axes[1].collections
