"""E7 on trained networks: learning rate, width and L2 against the top Hessian eigenvalue."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from landsim.real.experiments import get
from landsim.results import load_result, save_result

E7 = get("E7")


@pytest.fixture(scope="module")
def smoke():
    return E7.run(E7.smoke_config(), seed=0)


@pytest.mark.parametrize("changes, message", [
    ({"lr_values": (0.1, 0.05, 0.2)}, "lr_values must be strictly increasing"),
    ({"lr_values": (0.1, 0.2)}, "lr_values must be a sequence of at least 3 values"),
    ({"lr_values": (0.0, 0.1, 0.2)}, r"lr_values\[0\] must be in \]0, inf\[, got 0.0"),
    ({"width_values": (8, 16.5, 32)}, r"width_values\[1\] must be an integer >= 1, got 16.5"),
    ({"l2_values": (-1e-3, 0.0, 1e-3)}, r"l2_values\[0\] must be in \[0, inf\["),
    ({"l2": -0.1}, r"l2 must be in \[0, inf\[, got -0.1"),
    ({"n_networks": 0}, "n_networks must be an integer >= 1, got 0"),
    ({"lanczos_tol": 0.0}, r"lanczos_tol must be in \]0, 1\["),
    ({"min_abs_correlation": 2.0}, r"min_abs_correlation must be in \[0, 1\], got 2.0"),
    ({"profile_scales": (1.0,)}, "profile_scales must be a sequence of at least 2 values"),
    ({"optimizer": "lbfgs"}, "optimizer must be one of"),
    ({"hvp_method": "finite"}, "hvp_method must be one of"),
])
def test_config_rejects_bad_values(changes, message):
    with pytest.raises(ValueError, match=message):
        E7.Config(**changes)


def test_config_sweeps_become_tuples():
    cfg = E7.Config(lr_values=[0.1, 0.2, 0.3], width_values=[4, 8, 16])
    assert cfg.lr_values == (0.1, 0.2, 0.3) and cfg.width_values == (4, 8, 16)
    assert E7.Config(**{**cfg.__dict__}) == cfg


def test_smoke_result_shapes_and_kind(smoke):
    cfg = E7.smoke_config()
    s = smoke.series
    assert smoke.experiment == "E7" and smoke.kind == "real" and smoke.stem == "E7-real-seed0"
    n_scales = len(cfg.profile_scales)
    assert s["profile_scales"].shape == (n_scales,)
    for knob in E7.KNOBS:
        n = len(getattr(cfg, f"{knob}_values"))
        assert s[f"{knob}_values"].shape == (n,)
        for q in ("top_eigenvalue", "weight_norm", "distance", "train_loss",
                  "train_accuracy", "test_accuracy"):
            assert s[f"{knob}_{q}"].shape == (n,), (knob, q)
            assert np.all(np.isfinite(s[f"{knob}_{q}"]))
        assert s[f"{knob}_top_eigenvalue_networks"].shape == (n, cfg.n_networks)
        assert s[f"{knob}_profile"].shape == (n, n_scales)
        assert np.all(s[f"{knob}_top_eigenvalue"] > 0)  # trained nets sit near minima


def test_lanczos_agrees_with_power_iteration(smoke):
    m = smoke.metrics
    lanczos, power = m["check_lanczos_top_eigenvalue"], m["check_power_top_eigenvalue"]
    assert m["check_power_converged"] == 1.0
    # the largest eigenvalue bounds every Rayleigh quotient, and power iteration finds it
    assert lanczos >= power * (1 - 1e-4)
    assert power == pytest.approx(lanczos, rel=1e-2)
    assert m["check_relative_difference"] == pytest.approx(abs(lanczos - power) / lanczos)
    assert smoke.series["lr_top_eigenvalue"][0] == pytest.approx(lanczos)


def test_radial_profile_ends(smoke):
    """Scale 0 is the zero network (uniform prediction, loss log K); scale 1 the optimum."""
    s = smoke.series
    scales = s["profile_scales"]
    zero, one = int(np.flatnonzero(scales == 0.0)[0]), int(np.flatnonzero(scales == 1.0)[0])
    for knob in E7.KNOBS:
        np.testing.assert_allclose(s[f"{knob}_profile"][:, zero], math.log(10), rtol=1e-5)
        np.testing.assert_allclose(s[f"{knob}_profile"][:, one], s[f"{knob}_train_loss"],
                                   rtol=1e-4)


def test_verdict_recomputes_from_the_stored_series(smoke):
    cfg = E7.Config(**smoke.config)
    verdict, metrics = E7.judge(cfg, smoke.series)
    assert verdict == smoke.verdict
    for key, value in metrics.items():
        assert smoke.metrics[key] == pytest.approx(value)
    signs = {k: smoke.metrics[f"{k}_curvature_sign"] for k in E7.KNOBS}
    assert smoke.verdict.holds == (signs["lr"] != 0 and len(set(signs.values())) == 1)


def test_judge_holds_only_when_all_three_agree(smoke):
    cfg = E7.smoke_config()
    s = dict(smoke.series)
    for knob in E7.KNOBS:
        s[f"{knob}_top_eigenvalue"] = np.array([3.0, 2.0, 1.0])
    verdict = E7.judge(cfg, s)[0]
    assert verdict.holds and "as the paper claims" in verdict.evidence
    s["l2_top_eigenvalue"] = np.array([1.0, 2.0, 3.0])
    verdict = E7.judge(cfg, s)[0]
    assert not verdict.holds and "unlike the paper's claim" in verdict.evidence
    s["l2_top_eigenvalue"] = np.array([1.0, 1.0, 1.0])  # no clear effect
    assert not E7.judge(cfg, s)[0].holds


def test_save_load_round_trip_and_plot(smoke, tmp_path):
    path = save_result(smoke, tmp_path)
    assert path.name == "E7-real-seed0.json"
    back = load_result(path)
    assert back.kind == "real" and back.config == smoke.config
    assert back.verdict == smoke.verdict and back.metrics == smoke.metrics
    for k, v in smoke.series.items():
        np.testing.assert_array_equal(back.series[k], v)
    fig = Figure(figsize=(12, 4))
    E7.plot(back, fig)
    assert len(fig.axes) >= 4
    fig.savefig(io.BytesIO(), format="png")


def test_same_seed_same_result(smoke):
    again = E7.run(E7.smoke_config(), seed=0)
    for key, value in smoke.series.items():
        np.testing.assert_array_equal(again.series[key], value, err_msg=key)
    assert again.verdict == smoke.verdict
