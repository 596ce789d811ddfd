"""E7 on the toy landscape: do step size, gradient noise and L2 move the path alike?"""

from __future__ import annotations

import numpy as np
import pytest

from landsim import descent
from landsim.experiments import get
from landsim.results import load_result, save_result
from landsim.spec import random_landscape

E7 = get("E7")
TINY = dict(dim=60, n_wedges=2, n_short=6, n_runs=2, steps=15, lr_values=(0.05, 0.1, 0.2),
            noise_values=(0.05, 0.1, 0.2), l2_values=(5e-4, 1e-3, 2e-3),
            n_curvature_directions=2)


@pytest.fixture(scope="module")
def quick_result():
    return E7.run(E7.quick_config(), seed=0)


def expected_signs(metrics, threshold):
    out = {}
    for knob in E7.KNOBS:
        rho = metrics[f"{knob}_rho_width"]
        out[knob] = int(np.sign(rho)) if abs(rho) >= threshold else 0
    return out


def test_verdict_follows_the_measured_signs(quick_result):
    r = quick_result
    cfg = E7.quick_config()
    m, s = r.metrics, r.series
    assert r.experiment == "E7" and r.kind == "toy"
    signs = expected_signs(m, cfg.min_abs_correlation)
    for knob, sign in signs.items():
        assert m[f"{knob}_width_sign"] == sign
        rho = m[f"{knob}_rho_width"]
        assert rho == pytest.approx(E7.spearman(s[f"{knob}_values"], s[f"{knob}_width"]))
        # the sign is the direction of the width change from the smallest to the largest value
        if sign != 0 and abs(rho) == 1.0:
            assert np.sign(m[f"{knob}_width_change"]) == sign
    agree = len(set(signs.values())) == 1 and signs["lr"] != 0
    assert r.verdict.holds == agree, r.verdict.evidence
    # the model's own mechanics: a larger step and more noise end further out, where the
    # wedge is wider; L2 pulls the end point towards the origin, where it is narrower
    assert m["lr_rho_radius"] > 0 and m["noise_std_rho_radius"] > 0
    assert m["l2_rho_radius"] < 0
    assert signs["lr"] == 1 and signs["noise_std"] == 1 and signs["l2"] == -1
    assert ("all three agree" if agree else "they do not all agree") in r.verdict.evidence
    words = {1: "widens", -1: "narrows", 0: "has no clear effect on"}
    for knob in E7.KNOBS:
        assert f"raising {knob} " in r.verdict.evidence
        said = f"{words[signs[knob]]} the final wedge (rho = {m[f'{knob}_rho_width']:+.2f}"
        assert said in r.verdict.evidence


def test_measurements_are_consistent(quick_result):
    cfg = E7.quick_config()
    s = quick_result.series
    for knob, values in (("lr", cfg.lr_values), ("noise_std", cfg.noise_values),
                         ("l2", cfg.l2_values)):
        np.testing.assert_array_equal(s[f"{knob}_values"], values)
        for q in ("radius", "path_length", "width", "curvature", "loss"):
            assert s[f"{knob}_{q}"].shape == (len(values),)
        assert s[f"{knob}_width_runs"].shape == (len(values), cfg.n_runs)
        np.testing.assert_allclose(s[f"{knob}_width"], s[f"{knob}_width_runs"].mean(axis=1))
        # w = eps0 + eps1 r_long with r_long <= ||x||
        assert np.all(s[f"{knob}_width"] >= cfg.eps0)
        assert np.all(s[f"{knob}_width"] <= cfg.eps0 + cfg.eps1 * s[f"{knob}_radius"] + 1e-12)
        # a path is at least as long as the change of radius along it
        assert np.all(s[f"{knob}_path_length"] >= np.abs(s[f"{knob}_radius"] - cfg.radius))
        # the runs reached the union: final loss far below that of the starts
        assert np.all(s[f"{knob}_loss"] < 0.1)
    # common random numbers: the base setting gives the same numbers in every sweep
    at = {knob: list(s[f"{knob}_values"]).index(getattr(cfg, knob)) for knob in E7.KNOBS}
    for q in ("radius", "path_length", "width", "curvature"):
        base = s[f"lr_{q}"][at["lr"]]
        assert s[f"noise_std_{q}"][at["noise_std"]] == base
        assert s[f"l2_{q}"][at["l2"]] == base


def test_sgd_path_is_descend_one_step_at_a_time():
    spec = random_landscape(30, 2, 4, eps0=0.05, eps1=0.05, seed=1)
    x0 = descent.init_at_radius(30, 3.0, 3, seed=2)
    cfg = descent.DescentConfig(optimizer="sgd", lr=0.1, noise_std=0.2, l2=0.01)
    x, length, loss = E7.sgd_path(spec, x0, cfg, 12, seed=5)
    whole = descent.descend(spec, x0, cfg.replace(steps=12), seed=np.random.default_rng(5))
    np.testing.assert_allclose(x, whole.final_x, rtol=0, atol=1e-12)
    np.testing.assert_allclose(loss, whole.final_loss, rtol=1e-12, atol=0)
    # the path length is the sum of the step norms
    rng, xs, expected = np.random.default_rng(5), x0, np.zeros(3)
    for _ in range(12):
        nxt = descent.descend(spec, xs, cfg.replace(steps=1), seed=rng).final_x
        expected += np.linalg.norm(nxt - xs, axis=1)
        xs = nxt
    np.testing.assert_allclose(length, expected, rtol=1e-12)
    assert np.all(length >= np.linalg.norm(x - x0, axis=1))


def test_spearman():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    assert E7.spearman(x, x**3) == pytest.approx(1.0)
    assert E7.spearman(x, -x) == pytest.approx(-1.0)
    assert E7.spearman(x, np.ones(4)) == 0.0
    y = np.array([1.0, 3.0, 2.0, 2.0])  # ties: average ranks, as scipy.stats.spearmanr
    assert E7.spearman(x, y) == pytest.approx(0.31622776601683794)


@pytest.mark.parametrize("rho,holds", [(0.9, True), (-0.9, True), (0.3, False)])
def test_verdict_rule(monkeypatch, rho, holds):
    # the rule itself: the same clear sign for all three knobs, else not holding
    monkeypatch.setattr(E7, "spearman", lambda x, y: rho)
    r = E7.run(E7.Config(**TINY), seed=0)
    assert r.verdict.holds is holds
    assert ("has no clear effect on" in r.verdict.evidence) is not holds


def test_mixed_signs_do_not_hold(monkeypatch):
    calls = iter([0.9] * 8 + [-0.9] * 4)  # 4 correlations per knob: lr, noise +; l2 -
    monkeypatch.setattr(E7, "spearman", lambda x, y: next(calls))
    r = E7.run(E7.Config(**TINY), seed=0)
    assert not r.verdict.holds
    assert r.metrics["l2_width_sign"] == -1.0 and r.metrics["lr_width_sign"] == 1.0
    assert "narrows" in r.verdict.evidence and "they do not all agree" in r.verdict.evidence


def test_round_trip(quick_result, tmp_path):
    back = load_result(save_result(quick_result, tmp_path))
    assert back.metrics == quick_result.metrics
    assert back.verdict == quick_result.verdict
    assert back.config == quick_result.config
    assert back.series.keys() == quick_result.series.keys()
    for k, v in quick_result.series.items():
        assert np.array_equal(back.series[k], v)


@pytest.mark.parametrize("kwargs,message", [
    (dict(n_short=1000), r"n_short must be in \[1, dim - 1 = 999\] \(the wedge needs a long "
                         r"direction\), got 1000"),
    (dict(lr=0.0), r"lr must be in \]0, inf\[, got 0.0"),
    (dict(l2=-1e-3), r"l2 must be in \[0, inf\[, got -0.001"),
    (dict(lr_values=(0.1, 0.2)), "lr_values must be a sequence of at least 3 values"),
    (dict(lr_values=(0.0, 0.1, 0.2)), r"lr_values\[0\] must be in \]0, inf\[, got 0.0"),
    (dict(noise_values=(0.1, 0.05, 0.2)), "noise_values must be strictly increasing"),
    (dict(min_abs_correlation=2.0), r"min_abs_correlation must be in \[0, 1\], got 2.0"),
])
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        E7.Config(**kwargs)


def test_plot_draws(quick_result):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure()
    E7.plot(quick_result, fig)
    assert fig.axes and len(fig.axes) == 6  # three panels, each with a twin axis
    assert all(ax.lines for ax in fig.axes)
