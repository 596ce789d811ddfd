"""E6 on the toy landscape: averaging SGD snapshots works within one wedge, not across."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from claim_arms import assert_rule_discriminates, run_arms

from landsim import geometry
from landsim.experiments import get
from landsim.results import load_result, save_result
from landsim.seeding import replicate_sequence
from landsim.spec import random_landscape

E6 = get("E6")


@pytest.fixture(scope="module")
def arms():
    """(claim, control) of replicate 0 on the quick config."""
    return run_arms(E6, E6.quick_config(), seed=0, replicate=0)


# ------------------------------------------------------------------ both directions
def test_rule_holds_on_the_claim_and_fails_on_its_control(arms):
    claim, control = arms
    assert_rule_discriminates(claim, control)
    cfg = E6.quick_config()
    m, c = claim.metrics, control.metrics
    # the same runs and snapshots: only the grouping of the snapshots changed
    for key in ("snapshot_loss", "snapshot_depth", "snapshot_wedge", "cross_loss"):
        np.testing.assert_array_equal(claim.series[key], control.series[key])
    np.testing.assert_array_equal(claim.series["set_runs"],
                                  E6.set_runs(cfg.n_runs, cfg.n_snapshots, "one_run"))
    np.testing.assert_array_equal(control.series["set_runs"],
                                  E6.set_runs(cfg.n_runs, cfg.n_snapshots, "hopping"))
    # claim: every part of the rule holds, with room
    assert m["runs_in_one_wedge"] == 1.0 and m["wedges_per_set"] == 1.0
    assert m["snapshot_loss_rel_max"] < cfg.low_loss_fraction
    assert m["swa_excess_max"] < 0 and m["min_depth_gain"] > 0
    assert m["average_depth_min"] > 0  # the averages lie inside their wedge
    assert m["cross_optima"] >= 2 and m["cross_loss_rel"] >= cfg.low_loss_fraction
    assert m["cross_depth"] < 0
    # control: the snapshots are the same solutions; the hopping averages leave the wedges
    assert c["snapshot_loss_rel_max"] < cfg.low_loss_fraction
    assert c["wedges_per_set"] > 1
    assert c["swa_excess_max"] > cfg.low_loss_fraction  # out of the low-loss set, by far
    assert c["min_depth_gain"] < 0 and c["average_depth_min"] < 0
    assert c["cross_loss_rel"] == m["cross_loss_rel"]
    assert "0/6 sets within tolerance" in control.verdict.evidence
    assert control.verdict.rule == claim.verdict.rule


def test_control_config_changes_the_world_not_the_rule():
    for cfg in (E6.Config(), E6.quick_config(), E6.Config(low_loss_fraction=0.2,
                                                          swa_tolerance=0.01)):
        ctl = E6.control_config(cfg)
        assert ctl.snapshot_source == "hopping" and cfg.snapshot_source == "one_run"
        for name in E6.RULE_FIELDS:
            assert getattr(ctl, name) == getattr(cfg, name), name
        assert dataclasses.replace(ctl, snapshot_source="one_run") == cfg
    assert set(E6.RULE_FIELDS) <= set(E6.Config.__dataclass_fields__)
    assert "snapshot_source" not in E6.RULE_FIELDS
    assert 3 <= len(E6.KEY_METRICS) <= 6 and E6.KEY_METRICS[0] == "swa_excess_max"
    assert E6.CONTROL


def test_key_metrics_are_stored(arms):
    for r in arms:
        for key in E6.KEY_METRICS:
            assert np.isfinite(r.metrics[key]), key


def test_same_sequence_gives_bit_identical_results():
    cfg = dataclasses.replace(E6.quick_config(), n_snapshots=4)
    ss = replicate_sequence(7, 2)
    a, b = E6.run(cfg, seed=ss), E6.run(cfg, seed=ss)
    assert a.series.keys() == b.series.keys()
    for key, value in a.series.items():
        np.testing.assert_array_equal(b.series[key], value, err_msg=key)
    assert a.metrics == b.metrics and a.verdict == b.verdict
    assert (a.seed, a.replicate) == (7, 2)
    other = E6.run(cfg, seed=replicate_sequence(7, 3))
    assert not np.array_equal(other.series["snapshot_loss"], a.series["snapshot_loss"])


def test_verdict_recomputes_from_the_stored_series(arms):
    for r in arms:
        verdict, metrics = E6.judge(E6.Config(**r.config), r.series)
        assert verdict == r.verdict
        for key, value in metrics.items():
            assert r.metrics[key] == pytest.approx(value, nan_ok=True)


# ------------------------------------------------------------------ pieces of the rule
def test_set_runs():
    np.testing.assert_array_equal(E6.set_runs(3, 4, "one_run"),
                                  [[0, 0, 0, 0], [1, 1, 1, 1], [2, 2, 2, 2]])
    np.testing.assert_array_equal(E6.set_runs(3, 4, "hopping"),
                                  [[0, 1, 2, 0], [1, 2, 0, 1], [2, 0, 1, 2]])
    # hopping: consecutive snapshots of a set always come from different runs, and every
    # (run, snapshot) is used exactly once over the sets
    h = E6.set_runs(5, 7, "hopping")
    assert np.all(h[:, 1:] != h[:, :-1])
    for j in range(7):
        assert sorted(h[:, j]) == list(range(5))
    with pytest.raises(ValueError, match="source must be one of"):
        E6.set_runs(3, 4, "random")


def test_gather_sets_picks_snapshot_j_of_the_named_run():
    per_run = np.arange(12.0).reshape(3, 4)  # value 4 r + j
    got = E6.gather_sets(per_run, E6.set_runs(3, 4, "hopping"))
    np.testing.assert_array_equal(got, [[0, 5, 10, 3], [4, 9, 2, 7], [8, 1, 6, 11]])
    points = np.arange(24.0).reshape(3, 4, 2)
    np.testing.assert_array_equal(E6.gather_sets(points, E6.set_runs(3, 4, "one_run")),
                                  points)


def test_swa_excess_both_directions():
    members = np.array([[0.2, 0.4], [0.0, 0.0], [1.0, 3.0]])  # means 0.3, 0, 2
    average = np.array([0.1, 0.0, 2.5])
    np.testing.assert_allclose(E6.swa_excess(average, members, 2.0), [-0.1, 0.0, 0.25])


def _series(**changes):
    """Hand-made stored series of 2 runs x 3 snapshots that satisfy the rule (L0 = 10)."""
    s = {"start_loss": np.array([10.0]),
         "snapshot_loss": np.array([[0.01, 0.02, 0.0], [0.0, 0.03, 0.0]]),
         "snapshot_depth": np.array([[-0.01, 0.02, 0.03], [0.05, -0.02, 0.01]]),
         "snapshot_wedge": np.array([[0, 0, 0], [1, 1, 1]]),
         "set_runs": E6.set_runs(2, 3, "one_run"),
         "average_loss": np.array([0.0, 0.0]), "average_depth": np.array([0.04, 0.03]),
         "cross_runs": np.array([0, 1]), "cross_loss": np.array([2.0]),
         "cross_depth": np.array([-0.5])}
    s.update({k: np.asarray(v) for k, v in changes.items()})
    return s


def test_judge_on_hand_made_series():
    cfg = E6.Config()  # low-loss level 0.01 L0 = 0.1, tolerance 0
    verdict, m = E6.judge(cfg, _series())
    assert verdict.holds, verdict.evidence
    assert m["swa_excess_max"] == pytest.approx(-0.001)  # (0 - 0.01) / 10
    assert m["min_depth_gain"] == pytest.approx(0.03 - 0.04 / 3)
    assert m["cross_loss_rel"] == pytest.approx(0.2)
    assert m["snapshot_loss_rel_max"] == pytest.approx(0.001)
    assert m["wedges_per_set"] == 1.0
    # (1) an average worse than its snapshots, by any amount
    assert not E6.judge(cfg, _series(average_loss=[0.0, 0.011]))[0].holds
    assert E6.judge(cfg, _series(average_loss=[0.0, 0.01]))[0].holds  # = mean: no worse
    # (1) an average no deeper than its snapshots
    assert not E6.judge(cfg, _series(average_depth=[0.04, 0.0]))[0].holds
    # (2) the cross-wedge average inside the low-loss set, or fewer than 2 wedges
    assert not E6.judge(cfg, _series(cross_loss=[0.09]))[0].holds
    assert E6.judge(cfg, _series(cross_loss=[0.1]))[0].holds
    one_wedge = E6.judge(cfg, _series(cross_runs=[0], cross_loss=[np.nan]))
    assert not one_wedge[0].holds and np.isnan(one_wedge[1]["cross_loss_rel"])
    # (0) snapshots that are not solutions
    assert not E6.judge(cfg, _series(snapshot_loss=[[0.01, 0.02, 0.0],
                                                    [0.3, 0.3, 0.3]],
                                     average_loss=[0.0, 0.2]))[0].holds
    # hopping sets of the same snapshots: mixed wedges, an average worse than them
    verdict, m = E6.judge(cfg, _series(set_runs=E6.set_runs(2, 3, "hopping"),
                                       average_loss=[0.5, 0.6],
                                       average_depth=[-0.2, -0.3]))
    assert not verdict.holds and m["wedges_per_set"] == 2.0
    assert "0/2 sets within tolerance" in verdict.evidence


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


# ------------------------------------------------------------------ records and config
def test_round_trip(arms, tmp_path):
    for r in arms:
        back = load_result(save_result(r, tmp_path))
        assert back.metrics.keys() == r.metrics.keys()
        for k, v in r.metrics.items():
            assert back.metrics[k] == pytest.approx(v, nan_ok=True, rel=0, abs=0)
        assert back.verdict == r.verdict and back.config == r.config and back.arm == r.arm
        assert back.series.keys() == r.series.keys()
        for k, v in r.series.items():
            np.testing.assert_array_equal(back.series[k], v)


@pytest.mark.parametrize("kwargs,message", [
    (dict(n_short=2000), r"n_short must be an integer in \[1, dim - 1 = 1999\] \(a wedge "
                         r"needs at least one long direction\), got 2000"),
    (dict(n_runs=1), "n_runs must be an integer >= 2, got 1"),
    (dict(n_snapshots=1), "n_snapshots must be an integer >= 2, got 1"),
    (dict(noise_std=0.0), r"noise_std must be in \]0, inf\[, got 0.0"),
    (dict(lr=-0.1), r"lr must be in \]0, inf\[, got -0.1"),
    (dict(low_loss_fraction=0.0), r"low_loss_fraction must be in \]0, inf\[, got 0.0"),
    (dict(swa_tolerance=-0.1), r"swa_tolerance must be in \[0, inf\[, got -0.1"),
    (dict(snapshot_source="mixed"), r"snapshot_source must be one of \('one_run', "
                                    r"'hopping'\)"),
])
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        E6.Config(**kwargs)


def test_plot_draws(arms):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    for r in arms:
        fig = Figure()
        E6.plot(r, fig)
        assert fig.axes and len(fig.axes) == 2
        assert fig.axes[0].collections and fig.axes[1].collections
