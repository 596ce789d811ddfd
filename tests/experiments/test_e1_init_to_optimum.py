"""E1 on the toy landscape: no obstacle on the line from initialisation to optimum."""

from __future__ import annotations

import numpy as np
import pytest

from landsim.experiments import get
from landsim.results import load_result, save_result

E1 = get("E1")


@pytest.fixture(scope="module")
def quick_result():
    return E1.run(E1.quick_config(), seed=0)


def test_claim_holds_at_quick_size(quick_result):
    r = quick_result
    assert r.experiment == "E1" and r.kind == "toy"
    assert r.verdict.holds, r.verdict.evidence
    assert r.metrics["converged_fraction"] == 1.0
    assert 0.0 <= r.metrics["max_relative_rise"] <= 0.01
    assert r.metrics["median_start_loss"] > 0 and r.metrics["max_final_loss"] <= 1e-10
    prof = r.series["line_loss"]
    assert prof.shape == (E1.quick_config().n_starts, E1.quick_config().line_points)
    np.testing.assert_array_less(prof[:, -1], prof[:, 0])  # the optimum is lower


def test_largest_rise():
    assert E1.largest_rise(np.array([3.0, 2.0, 1.0])) == 0.0
    assert E1.largest_rise(np.array([3.0, 1.0, 2.5, 0.0])) == 1.5
    np.testing.assert_array_equal(E1.largest_rise(np.array([[1.0, 2.0], [2.0, 1.0]])),
                                  [1.0, 0.0])


def test_a_bumpy_line_fails_the_verdict(monkeypatch):
    # replace the landscape loss along lines by a profile with a bump: the verdict must say no
    real_loss = E1.geometry.loss

    def bumpy(spec, X):
        out = real_loss(spec, X)
        if out.shape[0] == E1.quick_config().line_points:
            t = np.linspace(0.0, 1.0, out.shape[0])
            out = out + 0.5 * out[0] * np.exp(-(((t - 0.8) / 0.05) ** 2))  # a late bump
        return out

    monkeypatch.setattr(E1.geometry, "loss", bumpy)
    r = E1.run(E1.quick_config(), seed=0)
    assert not r.verdict.holds
    assert r.metrics["max_relative_rise"] > 0.01
    assert "largest relative rise" in r.verdict.evidence


def test_round_trip(quick_result, tmp_path):
    back = load_result(save_result(quick_result, tmp_path))
    assert back.metrics == quick_result.metrics
    for k, v in quick_result.series.items():
        np.testing.assert_array_equal(back.series[k], v)


@pytest.mark.parametrize("kwargs,message", [
    (dict(n_short=5000),
     r"n_short must be in \[1, dim - 1 = 3999\] "
     r"\(the wedge needs a long direction\), got 5000"),
    (dict(radius=0.0), r"radius must be in \]0, inf\[, got 0.0"),
    (dict(line_points=2), "line_points must be an integer >= 3, got 2"),
    (dict(rise_tolerance=-1.0), r"rise_tolerance must be in \[0, inf\[, got -1.0"),
])
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        E1.Config(**kwargs)


def test_plot_draws(quick_result):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure()
    E1.plot(quick_result, fig)
    assert len(fig.axes) == 2 and fig.axes[0].lines
