"""E5 on a trained network: radial sections through the origin and the optimum."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from landsim.real import sections
from landsim.real.experiments import get
from landsim.results import load_result, save_result

E5 = get("E5")


@pytest.fixture(scope="module")
def smoke():
    return E5.run(E5.smoke_config(), seed=0)


@pytest.mark.parametrize("changes, message", [
    ({"n_angles": 47}, "n_angles must be even"),
    ({"n_angles": 4}, "n_angles must be an integer >= 8, got 4"),
    ({"n_radii": 2}, "n_radii must be an integer >= 3, got 2"),
    ({"low_loss": 0.0}, r"low_loss must be in \]0, inf\[, got 0.0"),
    ({"r_max_scale": -1.0}, r"r_max_scale must be in \]0, inf\["),
    ({"min_r2": 1.5}, r"min_r2 must be in \[0, 1\], got 1.5"),
    ({"min_fit_radii": 9, "n_radii": 8}, r"min_fit_radii must be in \[2, n_radii = 8\], got 9"),
    ({"eval_samples": -1}, "eval_samples must be an integer >= 0, got -1"),
    ({"dataset": "mnist"}, "dataset must be one of"),
    ({"device": "tpu"}, "device must be one of"),
])
def test_config_rejects_bad_values(changes, message):
    with pytest.raises(ValueError, match=message):
        E5.Config(**changes)


def test_configs_are_valid_and_smaller_for_quick_and_smoke():
    full, quick, smoke = E5.Config(), E5.quick_config(), E5.smoke_config()
    cost = [c.n_sections * c.n_radii * c.n_angles for c in (full, quick, smoke)]
    assert cost[0] > cost[1] > cost[2]
    assert full.min_r2 == 0.9 and full.r_max_scale == 2.0  # the toy's numbers
    assert E5.radius_scales(full)[-1] == full.r_max_scale


def test_smoke_result_shapes_and_kind(smoke):
    cfg = E5.smoke_config()
    s, m = smoke.series, smoke.metrics
    assert smoke.experiment == "E5" and smoke.kind == "real" and smoke.stem == "E5-real-seed0"
    R, A, S = cfg.n_radii, cfg.n_angles, cfg.n_sections
    assert s["radii"].shape == s["scales"].shape == s["mean_width"].shape == (R,)
    assert s["angles"].shape == (A,)
    assert s["section_loss"].shape == s["section_accuracy"].shape == (R, A)
    assert s["widths"].shape == (S, R) and s["fit_mask"].shape == (R,)
    np.testing.assert_allclose(s["radii"], m["optimum_norm"] * s["scales"])
    np.testing.assert_allclose(s["mean_width"], s["widths"].mean(axis=0))
    assert np.all(s["widths"] >= 0) and np.all(s["widths"] <= 2 * math.pi * s["radii"] + 1e-9)
    assert np.all(np.isfinite(s["section_loss"]))
    assert np.all((s["section_accuracy"] >= 0) & (s["section_accuracy"] <= 1))


def test_section_at_the_optimum_is_the_optimum(smoke):
    """Radius |w*| at angle 0 is w* itself: its loss is the optimum's loss."""
    s, m = smoke.series, smoke.metrics
    at_one = np.flatnonzero(np.abs(s["scales"] - 1.0) < 1e-12)
    assert at_one.size == 1, "the smoke grid must contain the optimum's radius"
    centre = s["angles"].size // 2
    assert s["angles"][centre] == 0.0
    assert s["section_loss"][at_one[0], centre] == pytest.approx(m["optimum_loss"], rel=1e-3,
                                                                 abs=1e-6)
    assert s["ray_loss"][at_one[0]] == s["section_loss"][at_one[0], centre]
    # near the origin the network predicts nearly uniformly: loss close to log K
    assert s["ray_loss"][0] > 0.5 * math.log(10)


def test_verdict_and_widths_recompute_from_the_stored_series(smoke):
    cfg = E5.Config(**smoke.config)
    s = smoke.series
    # section 0's width from its stored loss grid
    sec = sections.RadialSection(s["section_loss"], s["section_accuracy"], s["radii"],
                                 s["angles"], None, None, None)
    np.testing.assert_allclose(sections.low_loss_width(sec, cfg.low_loss).width,
                               s["widths"][0])
    centre = s["angles"].size // 2
    fit_mask = s["fit_mask"].astype(bool)
    # the ray is shared by all sections, so section 0 decides the fit domain
    np.testing.assert_array_equal(s["section_loss"][:, centre] <= cfg.low_loss, fit_mask)
    assert np.all(s["widths"][:, fit_mask] > 0) and np.all(s["widths"][:, ~fit_mask] == 0)
    verdict, metrics = E5.judge(cfg, s["radii"], s["widths"], fit_mask)
    assert verdict == smoke.verdict
    for key, value in metrics.items():
        assert smoke.metrics[key] == pytest.approx(value, nan_ok=True)
    mean = s["mean_width"][fit_mask]
    holds = (metrics["fit_radii"] >= cfg.min_fit_radii and metrics["slope"] > 0
             and np.ptp(mean) > 0 and metrics["r2"] >= cfg.min_r2)
    assert smoke.verdict.holds == holds
    assert f"R^2 >= {cfg.min_r2:g}" in smoke.verdict.rule


def test_judge_fails_without_a_low_loss_region_and_on_a_flat_width():
    cfg = E5.smoke_config()
    radii = np.arange(1.0, 9.0)
    none = E5.judge(cfg, radii, np.zeros((2, 8)), np.zeros(8, dtype=bool))[0]
    assert not none.holds and "only 0 of 8 radii" in none.evidence
    cone = np.vstack([0.5 * radii, 0.6 * radii])
    assert E5.judge(cfg, radii, cone, np.ones(8, dtype=bool))[0].holds
    flat = np.ones((2, 8))  # a strip: constant width
    assert not E5.judge(cfg, radii, flat, np.ones(8, dtype=bool))[0].holds


def test_save_load_round_trip(smoke, tmp_path):
    path = save_result(smoke, tmp_path)
    assert path.name == "E5-real-seed0.json"
    back = load_result(path)
    assert back.kind == "real" and back.config == smoke.config
    assert back.verdict == smoke.verdict
    assert back.metrics.keys() == smoke.metrics.keys()
    for k, v in smoke.series.items():
        np.testing.assert_array_equal(back.series[k], v)
    fig = Figure(figsize=(12, 4))
    E5.plot(back, fig)
    assert len(fig.axes) >= 2
    fig.savefig(io.BytesIO(), format="png")


def test_same_seed_same_result(smoke):
    again = E5.run(E5.smoke_config(), seed=0)
    np.testing.assert_array_equal(again.series["widths"], smoke.series["widths"])
    np.testing.assert_array_equal(again.series["section_loss"], smoke.series["section_loss"])
    assert again.verdict == smoke.verdict
