"""E1 on the toy landscape: no obstacle on the line from initialisation to optimum; its
control (lines between optima of different wedges) crosses the E3 barrier and must fail."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from claim_arms import assert_rule_discriminates, run_arms

from landsim.experiments import get
from landsim.results import load_result, save_result
from landsim.seeding import replicate_sequence

E1 = get("E1")


@pytest.fixture(scope="module")
def arms():
    """(claim, control) of replicate 0 at quick size."""
    return run_arms(E1, E1.quick_config(), seed=0, replicate=0)


def test_rule_passes_on_the_claim_and_fails_on_its_control(arms):
    claim, control = arms
    assert_rule_discriminates(claim, control)
    assert claim.metrics["max_relative_rise"] <= 0.01 < control.metrics["max_relative_rise"]


def test_claim_arm_lines_fall_from_the_initialisation(arms):
    r, cfg = arms[0], E1.quick_config()
    assert r.experiment == "E1" and r.kind == "toy" and r.arm == "claim"
    assert r.metrics["converged_fraction"] == 1.0
    assert r.metrics["max_final_loss"] <= cfg.target_loss
    prof = r.series["line_loss"]
    assert prof.shape == (cfg.n_starts, cfg.line_points)
    np.testing.assert_array_equal(r.series["line_source"], np.arange(cfg.n_starts))
    # the line starts at the initialisation, so the reference is the line's start loss
    np.testing.assert_array_equal(r.series["reference_loss"], prof[:, 0])
    np.testing.assert_array_less(prof[:, -1], prof[:, 0])  # the optimum is lower
    assert r.metrics["different_wedge_fraction"] == 0.0


def test_control_joins_the_same_optima_across_wedges(arms):
    """The control is paired with the claim: the same landscape, starts and optima; each
    line now starts at another run's optimum in a different wedge, and its reference is the
    loss at that run's initialisation."""
    claim, control = arms
    src, wedge = control.series["line_source"], control.series["optimum_wedge"]
    np.testing.assert_array_equal(wedge, claim.series["optimum_wedge"])
    assert np.all(src != np.arange(src.size)) and np.all(wedge[src] != wedge)
    assert control.metrics["different_wedge_fraction"] == 1.0
    prof, claim_prof = control.series["line_loss"], claim.series["line_loss"]
    np.testing.assert_array_equal(prof[:, -1], claim_prof[:, -1])  # same optima
    np.testing.assert_array_equal(prof[:, 0], claim_prof[src, -1])  # starts at an optimum
    np.testing.assert_array_equal(control.series["reference_loss"], claim_prof[src, 0])
    # both ends lie in a wedge, and the middle of the line leaves them: the E3 barrier
    assert np.all(prof[:, [0, -1]] <= E1.quick_config().target_loss)
    assert np.all(prof[:, prof.shape[1] // 2] > 0.01 * control.series["reference_loss"])


def test_same_sequence_gives_bit_identical_results():
    ss = replicate_sequence(7, 2)
    cfg = dataclasses.replace(E1.quick_config(), n_starts=4, steps=100)
    a, b = E1.run(cfg, seed=ss), E1.run(cfg, seed=ss)
    assert a.metrics == b.metrics and a.verdict == b.verdict
    assert a.series.keys() == b.series.keys()
    for key, arr in a.series.items():
        np.testing.assert_array_equal(b.series[key], arr)
    assert (a.seed, a.replicate) == (7, 2)
    other = E1.run(cfg, seed=replicate_sequence(7, 3))  # another replicate: other draws
    assert not np.array_equal(other.series["reference_loss"], a.series["reference_loss"])


def test_control_config_changes_only_the_world():
    for cfg in (E1.Config(), E1.quick_config()):
        ctrl = E1.control_config(cfg)
        assert ctrl.line_start == "other_optimum" and cfg.line_start == "init"
        for name in E1.RULE_FIELDS:
            assert getattr(ctrl, name) == getattr(cfg, name)
        changed = {f.name for f in dataclasses.fields(cfg)
                   if getattr(cfg, f.name) != getattr(ctrl, f.name)}
        assert changed == {"line_start"}
    assert set(E1.RULE_FIELDS) <= {f.name for f in dataclasses.fields(E1.Config)}


def test_key_metrics_are_metrics(arms):
    assert 3 <= len(E1.KEY_METRICS) <= 6 and E1.KEY_METRICS[0] == "max_relative_rise"
    for r in arms:
        assert set(E1.KEY_METRICS) <= set(r.metrics)
    assert isinstance(E1.CONTROL, str) and E1.CONTROL


def test_largest_rise():
    assert E1.largest_rise(np.array([3.0, 2.0, 1.0])) == 0.0
    assert E1.largest_rise(np.array([3.0, 3.0, 3.0])) == 0.0
    assert E1.largest_rise(np.array([3.0, 1.0, 2.5, 0.0])) == 1.5
    assert E1.largest_rise(np.array([0.0, 5.0, 0.0])) == 5.0  # a barrier between optima
    np.testing.assert_array_equal(E1.largest_rise(np.array([[1.0, 2.0], [2.0, 1.0]])),
                                  [1.0, 0.0])


def test_relative_rise():
    np.testing.assert_array_equal(
        E1.relative_rise(np.array([0.0, 2.0, 0.0, 3.0]), np.array([4.0, 4.0, 0.0, 0.0])),
        [0.0, 0.5, 0.0, np.inf])


def test_partner_runs():
    np.testing.assert_array_equal(E1.partner_runs(np.array([0, 0, 1, 1])), [2, 2, 0, 0])
    np.testing.assert_array_equal(E1.partner_runs(np.array([0, 1, 2])), [1, 2, 0])
    np.testing.assert_array_equal(E1.partner_runs(np.array([3, 3])), [1, 0])  # fallback
    with pytest.raises(ValueError, match="at least 2 runs"):
        E1.partner_runs(np.array([0]))


def test_verdict_both_directions():
    cfg = E1.Config()
    ref, ok = np.array([20.0, 30.0]), np.array([True, True])
    rise = np.array([0.0, 0.3])  # 1 % of 30: on the threshold, holds
    assert E1.verdict_of(E1.relative_rise(rise, ref), ok, rise, ref, cfg).holds
    rise = np.array([0.0, 0.31])  # just above 1 %
    v = E1.verdict_of(E1.relative_rise(rise, ref), ok, rise, ref, cfg)
    assert not v.holds and "0.0103" in v.evidence and "line 1" in v.evidence
    rise = np.zeros(2)  # no rise, but a run did not converge
    assert not E1.verdict_of(E1.relative_rise(rise, ref), np.array([True, False]), rise,
                             ref, cfg).holds


def test_round_trip(arms, tmp_path):
    for r in arms:
        back = load_result(save_result(r, tmp_path))
        assert back.metrics == r.metrics and back.arm == r.arm and back.verdict == r.verdict
        for k, v in r.series.items():
            np.testing.assert_array_equal(back.series[k], v)


@pytest.mark.parametrize("kwargs,message", [
    (dict(n_short=5000),
     r"n_short must be an integer in \[1, dim - 1 = 3999\] "
     r"\(a wedge needs at least one long direction\), got 5000"),
    (dict(radius=0.0), r"radius must be in \]0, inf\[, got 0.0"),
    (dict(line_points=2), "line_points must be an integer >= 3, got 2"),
    (dict(rise_tolerance=-1.0), r"rise_tolerance must be in \[0, inf\[, got -1.0"),
    (dict(line_start="middle"),
     r"line_start must be one of \('init', 'other_optimum'\), got 'middle'"),
    (dict(line_start="other_optimum", n_starts=1),
     "n_starts must be an integer >= 2 when line_start is 'other_optimum'"),
])
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        E1.Config(**kwargs)


def test_plot_draws(arms):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    for r in arms:
        fig = Figure()
        E1.plot(r, fig)
        assert len(fig.axes) == 2 and fig.axes[0].lines
