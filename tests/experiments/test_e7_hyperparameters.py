"""E7 on the toy landscape: do lr, gradient noise and L2 act through one variable?"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from landsim import descent, geometry
from landsim.experiments import get
from landsim.results import load_result, save_result
from landsim.seeding import replicate_sequence
from landsim.spec import random_landscape
from tests.claim_arms import assert_rule_discriminates, run_arms

E7 = get("E7")
TINY = dict(dim=60, n_wedges=2, n_short=6, n_runs=2, steps=15, lr_values=(0.05, 0.1, 0.2),
            noise_values=(0.025, 0.05, 0.1), l2_values=(2e-3, 4e-3, 8e-3),
            n_probe_directions=2, hessian_iters=5)


@pytest.fixture(scope="module")
def tiny_result():
    return E7.run(E7.Config(**TINY), seed=replicate_sequence(0, 0))


# ----------------------------------------------------------------- the rule, both ways
def radial_path(spec, x0, lr, noise_std, l2, noise):
    """A stand-in optimiser that satisfies reading A by construction: the end point is the
    start, scaled to a radius set by the knobs (each knob moves it), with the short
    coordinates of its arg-min wedge set to 0 (the wedge's centre at that radius), so
    that the curvature can depend on the knobs only through r."""
    scale = (0.1 / lr) ** 0.3 * (1.0 + 5.0 * noise_std) * (4e-3 / l2) ** 0.3
    x = x0 * scale
    for row, k in enumerate(geometry.argmin_wedge(spec, x)):
        x[row, spec.wedges[int(k)].short_axes] = 0.0
    return x


def test_rule_passes_by_construction_and_fails_on_its_control(monkeypatch):
    # The toy's own SGD does not satisfy reading A (see docs/claims.md, E7): here the path
    # is replaced by one that acts through the radius alone. With eps1 > 0 the curvature
    # then follows r on one curve; the control (eps1 = 0) has a constant width, so the
    # curvature does not move and the same rule fails.
    monkeypatch.setattr(E7, "sgd_path", radial_path)
    cfg = E7.Config(dim=200, n_wedges=2, n_short=20, n_runs=4, steps=1, eps1=0.05,
                    lr_values=(0.05, 0.1, 0.2), noise_values=(0.025, 0.05, 0.1),
                    l2_values=(2e-3, 4e-3, 8e-3), n_probe_directions=8)
    claim, control = run_arms(E7, cfg)
    assert_rule_discriminates(claim, control)
    assert claim.metrics["pooled_rank_corr"] <= -0.8  # wider further out: lower c
    assert control.metrics["curvature_ratio"] < cfg.min_curvature_ratio


def test_control_changes_the_world_not_the_rule():
    cfg = E7.Config(**TINY)
    ctrl = E7.control_config(cfg)
    assert ctrl.eps1 == 0.0 and cfg.eps1 > 0
    for name in E7.RULE_FIELDS:
        assert getattr(ctrl, name) == getattr(cfg, name)
    changed = {f.name for f in dataclasses.fields(cfg) if getattr(cfg, f.name)
               != getattr(ctrl, f.name)}
    assert changed == {"eps1"}
    assert isinstance(E7.CONTROL, str) and E7.CONTROL
    assert 3 <= len(E7.KEY_METRICS) <= 6


def sweeps_on_one_curve(curve):
    """Three sweeps whose curvature is ``curve(r)`` of their radius."""
    radii = {"lr": [4.0, 3.0, 2.0], "noise_std": [2.5, 5.0, 10.0], "l2": [6.0, 4.5, 3.5]}
    return {k: (np.array([1.0, 2.0, 3.0]), np.array(r), curve(np.array(r)))
            for k, r in radii.items()}


def test_rule_statistics_on_hand_made_sweeps():
    cfg = E7.Config(**TINY)
    good = E7.rule_metrics(sweeps_on_one_curve(lambda r: 1.0 / r), 0.5)
    assert good["pooled_rank_corr"] == pytest.approx(-1.0)
    assert good["knob_offset_share"] == pytest.approx(0.0, abs=1e-12)
    assert good["pooled_r2"] == pytest.approx(1.0)
    assert good["curvature_ratio"] == pytest.approx(10.0 / 2.0)
    assert good["min_knob_radius_ratio"] == pytest.approx(6.0 / 3.5)
    # reading B: lr and l2 raise c (their radius falls), noise lowers it
    assert good["lr_direction"] == 1 and good["noise_std_direction"] == -1
    assert good["same_direction"] == 0.0
    assert E7.judge(cfg, good, E7.KNOBS).holds

    # offsets: the same shape shifted per knob -> F large, the one-curve test fails
    shifted = sweeps_on_one_curve(lambda r: 1.0 / r)
    for n, knob in enumerate(E7.KNOBS):
        v, r, c = shifted[knob]
        shifted[knob] = (v, r, c * 3.0**n)
    bad = E7.rule_metrics(shifted, 0.5)
    assert bad["knob_offset_share"] > 0.1
    verdict = E7.judge(cfg, bad, E7.KNOBS)
    assert not verdict.holds and "one curve" in verdict.evidence

    # a flat curvature: monotone part and effect size fail
    flat = E7.rule_metrics(sweeps_on_one_curve(lambda r: np.ones_like(r)), 0.5)
    assert flat["curvature_ratio"] == 1.0 and np.isnan(flat["knob_offset_share"])
    assert not E7.judge(cfg, flat, E7.KNOBS).holds

    # a knob that does not move the radius fails the minimum effect
    still = sweeps_on_one_curve(lambda r: 1.0 / r)
    v, _, _ = still["l2"]
    still["l2"] = (v, np.full(3, 4.0), np.full(3, 0.25))
    m = E7.rule_metrics(still, 0.5)
    assert m["l2_radius_ratio"] == 1.0
    verdict = E7.judge(cfg, m, E7.KNOBS)
    assert not verdict.holds and "every knob moves the radius" in verdict.evidence


def test_knob_offset_share_is_the_variance_share_of_the_offsets():
    log_r = np.log([1.0, 2.0, 3.0, 1.5, 2.5, 3.5])
    groups = np.array([0, 0, 0, 1, 1, 1])
    same = -log_r
    share, r2 = E7.knob_offset_share(log_r, same, groups)
    assert share == pytest.approx(0.0, abs=1e-12) and r2 == pytest.approx(1.0)
    offset = same + np.where(groups == 1, 2.0, 0.0)
    share, r2 = E7.knob_offset_share(log_r, offset, groups)
    assert share > 0.5 and share == pytest.approx(1.0 - r2)  # offsets fit exactly
    assert np.isnan(E7.knob_offset_share(log_r, np.zeros(6), groups)[0])


def test_spearman():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    assert E7.spearman(x, x**3) == pytest.approx(1.0)
    assert E7.spearman(x, -x) == pytest.approx(-1.0)
    assert E7.spearman(x, np.ones(4)) == 0.0
    y = np.array([1.0, 3.0, 2.0, 2.0])  # ties: average ranks, as scipy.stats.spearmanr
    assert E7.spearman(x, y) == pytest.approx(0.31622776601683794)


# ----------------------------------------------------------------- the measurement
def test_noise_is_not_scaled_by_the_step_size():
    # deep inside a wide wedge the gradient is 0: without L2 the end point is
    # x0 + noise_std * sum(noise) whatever lr is
    spec = random_landscape(30, 1, 3, eps0=100.0, eps1=0.0, seed=1)
    x0 = descent.init_at_radius(30, 1.0, 2, seed=2)
    noise = np.random.default_rng(3).standard_normal((10, 2, 30))
    expected = x0 + 0.1 * noise.sum(axis=0)
    for lr in (0.01, 0.5):
        np.testing.assert_allclose(E7.sgd_path(spec, x0, lr, 0.1, 0.0, noise), expected,
                                   rtol=0, atol=1e-12)
    # L2 alone shrinks by (1 - lr l2) per step
    shrunk = E7.sgd_path(spec, x0, 0.5, 0.0, 0.1, noise)
    np.testing.assert_allclose(shrunk, x0 * (1 - 0.05) ** 10, rtol=1e-12)


def test_probe_curvature_and_top_eigenvalue_on_a_quadratic():
    # eps0 = eps1 = 0: one wedge's loss is sum of squared short coordinates, Hessian 2 on
    # the short axes; on the long subspace c = 2 mean |P_S v|^2; off it, top eig = 2
    spec = random_landscape(40, 1, 5, eps0=0.0, eps1=0.0, seed=4)
    short = np.asarray(spec.wedges[0].short_axes)
    x = np.random.default_rng(5).standard_normal((3, 40))
    x[:, short] = 0.0
    V = np.random.default_rng(6).standard_normal((3, 7, 40))
    V /= np.linalg.norm(V, axis=2, keepdims=True)
    c = E7.probe_curvature(spec, x, V, 2.5)
    np.testing.assert_allclose(c, 2.0 * (V[:, :, short] ** 2).sum(axis=2).mean(axis=1),
                               rtol=1e-10)
    x[:, short] = 0.3  # off the kink at u = 0, where hvp is 0: Hessian 2 on short axes
    lam = E7.top_eigenvalue(spec, x, np.random.default_rng(7).standard_normal((3, 40)), 5)
    np.testing.assert_allclose(lam, 2.0, rtol=1e-10)


def test_same_sequence_same_bits(tiny_result):
    again = E7.run(E7.Config(**TINY), seed=replicate_sequence(0, 0))
    assert again.series.keys() == tiny_result.series.keys()
    for key, value in tiny_result.series.items():
        np.testing.assert_array_equal(again.series[key], value, err_msg=key)
    assert again.metrics == tiny_result.metrics and again.verdict == tiny_result.verdict
    other = E7.run(E7.Config(**TINY), seed=replicate_sequence(0, 1))
    assert not np.array_equal(other.series["lr_radius"], tiny_result.series["lr_radius"])


def test_result_is_consistent(tiny_result):
    r, cfg = tiny_result, E7.Config(**TINY)
    assert r.experiment == "E7" and r.kind == "toy" and r.replicate == 0
    for key in E7.KEY_METRICS:
        assert key in r.metrics
    s = r.series
    for knob, values in (("lr", cfg.lr_values), ("noise_std", cfg.noise_values),
                         ("l2", cfg.l2_values)):
        np.testing.assert_array_equal(s[f"{knob}_values"], values)
        assert s[f"{knob}_curvature_runs"].shape == (len(values), cfg.n_runs)
        np.testing.assert_allclose(s[f"{knob}_radius"], s[f"{knob}_radius_runs"].mean(axis=1))
        assert np.all(s[f"{knob}_width"] >= cfg.eps0)
    # common random numbers: the base setting gives the same numbers in every sweep
    at = {knob: list(s[f"{knob}_values"]).index(getattr(cfg, knob)) for knob in E7.KNOBS}
    for q in ("radius", "curvature", "top_eigenvalue"):
        base = s[f"lr_{q}"][at["lr"]]
        assert s[f"noise_std_{q}"][at["noise_std"]] == base
        assert s[f"l2_{q}"][at["l2"]] == base
    assert E7.judge(cfg, r.metrics, E7.KNOBS) == r.verdict


def test_round_trip_and_plot(tiny_result, tmp_path):
    back = load_result(save_result(tiny_result, tmp_path))
    assert back.metrics.keys() == tiny_result.metrics.keys()
    assert back.verdict == tiny_result.verdict and back.config == tiny_result.config
    for k, v in tiny_result.series.items():
        assert np.array_equal(back.series[k], v)
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure()
    E7.plot(back, fig)
    assert len(fig.axes) == 7  # pooled panel, three knob panels with a twin each


@pytest.mark.parametrize("kwargs,message", [
    (dict(n_short=1000), r"n_short must be an integer in \[1, dim - 1 = 999\]"),
    (dict(lr=0.0), r"lr must be in \]0, inf\[, got 0.0"),
    (dict(l2=-1e-3), r"l2 must be in \[0, inf\[, got -0.001"),
    (dict(lr_values=(0.1, 0.2)), "lr_values must be a sequence of at least 3 values"),
    (dict(lr_values=(0.0, 0.1, 0.2)), r"lr_values\[0\] must be in \]0, inf\[, got 0.0"),
    (dict(noise_values=(0.1, 0.05, 0.2)), "noise_values must be strictly increasing"),
    (dict(probe_length=0.0), r"probe_length must be in \]0, inf\["),
    (dict(min_pooled_rank_corr=2.0), r"min_pooled_rank_corr must be in \[0, 1\], got 2.0"),
    (dict(max_knob_offset_share=-0.1), r"max_knob_offset_share must be in \[0, 1\]"),
    (dict(min_curvature_ratio=0.5), r"min_curvature_ratio must be in \[1, inf\["),
])
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        E7.Config(**kwargs)
