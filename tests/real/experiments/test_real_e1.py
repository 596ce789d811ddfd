"""Real-network E1: loss along the init -> optimum lines (smoke config, both arms run once);
the control's lines join two trained networks and cross a barrier, so the rule must fail."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from claim_arms import assert_rule_discriminates, run_arms
from matplotlib.figure import Figure

from landsim.real.experiments import e1_init_to_optimum as e1
from landsim.results import load_result, save_result
from landsim.seeding import replicate_sequence


@pytest.fixture(scope="module")
def arms():
    """(claim, control) of replicate 0 on the smoke config."""
    return run_arms(e1, e1.smoke_config(), seed=0, replicate=0)


@pytest.fixture(scope="module")
def result(arms):
    return arms[0]


@pytest.mark.parametrize("change, match", [
    ({"n_networks": 0}, "n_networks"), ({"line_points": 2}, "line_points"),
    ({"rise_tolerance": -0.1}, "rise_tolerance"), ({"min_train_accuracy": 1.5},
                                                    "min_train_accuracy"),
    ({"device": "tpu"}, "device"), ({"dataset": "cifar"}, "dataset"), ({"lr": 0.0}, "lr"),
    ({"line_start": "middle"}, "line_start must be one of"),
    ({"line_start": "other_optimum", "n_networks": 1}, "n_networks must be an integer >= 2"),
])
def test_config_rejects_bad_values(change, match):
    with pytest.raises(ValueError, match=match):
        e1.Config(**change)


def test_rule_passes_on_the_claim_and_fails_on_its_control(arms):
    claim, control = arms
    assert_rule_discriminates(claim, control)
    assert claim.metrics["max_relative_rise"] <= 0.01 < control.metrics["max_relative_rise"]
    # the control fails on the rise, not on training: the same networks trained in both arms
    assert control.metrics["min_final_train_accuracy"] >= e1.smoke_config().min_train_accuracy
    np.testing.assert_array_equal(control.series["final_train_loss"],
                                  claim.series["final_train_loss"])


def test_control_config_changes_only_the_world():
    for cfg in (e1.Config(), e1.quick_config(), e1.smoke_config()):
        ctrl = e1.control_config(cfg)
        assert ctrl.line_start == "other_optimum" and cfg.line_start == "init"
        for name in e1.RULE_FIELDS:
            assert getattr(ctrl, name) == getattr(cfg, name)
        changed = {f.name for f in dataclasses.fields(cfg)
                   if getattr(cfg, f.name) != getattr(ctrl, f.name)}
        assert changed == {"line_start"}


def test_interface_and_kind(arms):
    result = arms[0]
    assert result.kind == "real" and result.experiment == e1.ID == "E1"
    assert e1.quick_config().epochs <= e1.Config().epochs
    assert result.config["device"] == "cpu" and result.config["dataset"] == "digits"
    assert 3 <= len(e1.KEY_METRICS) <= 6 and e1.KEY_METRICS[0] == "max_relative_rise"
    for r in arms:
        assert set(e1.KEY_METRICS) <= set(r.metrics)


def test_line_sources():
    np.testing.assert_array_equal(e1.line_sources(3, "init"), [0, 1, 2])
    np.testing.assert_array_equal(e1.line_sources(3, "other_optimum"), [1, 2, 0])


def test_series_shapes(result):
    cfg = e1.smoke_config()
    s = result.series
    k, T = cfg.n_networks, cfg.line_points
    assert s["t"].shape == (T,) and s["t"][0] == 0 and s["t"][-1] == 1
    for key in ("line_train_loss", "line_test_loss", "line_train_accuracy",
                "line_test_accuracy"):
        assert s[key].shape == (k, T)
    assert s["train_curve_loss"].shape == (k, s["train_epoch"].size)
    assert s["train_epoch"][-1] == cfg.epochs
    assert s["train_rise"].shape == (k,) and np.all(s["train_rise"] >= 0)
    assert s["reference_train_loss"].shape == s["reference_test_loss"].shape == (k,)


def test_line_endpoints(arms):
    """Claim: t = 0 is the initial network and t = 1 the trained one, and the reference is
    the line's start loss. Control: t = 0 is the next trained network, t = 1 the same
    trained network as in the claim, and the reference is the next network's initial loss.
    The losses the trainer recorded (a separate evaluation) agree."""
    claim, control = arms
    s, c = claim.series, control.series
    np.testing.assert_allclose(s["line_train_loss"][:, 0], s["train_curve_loss"][:, 0],
                               rtol=1e-5)
    np.testing.assert_allclose(s["reference_train_loss"], s["line_train_loss"][:, 0],
                               rtol=1e-6)
    np.testing.assert_allclose(s["reference_test_loss"], s["line_test_loss"][:, 0],
                               rtol=1e-6)
    np.testing.assert_allclose(s["line_train_loss"][:, -1], s["final_train_loss"], rtol=1e-5)
    np.testing.assert_allclose(s["line_test_loss"][:, -1], s["final_test_loss"], rtol=1e-5)
    np.testing.assert_allclose(s["line_train_accuracy"][:, -1], s["final_train_accuracy"])
    src = c["line_source"]
    np.testing.assert_array_equal(src, [1, 0])
    np.testing.assert_allclose(c["line_train_loss"][:, 0], c["final_train_loss"][src],
                               rtol=1e-5)
    np.testing.assert_allclose(c["line_train_loss"][:, -1], c["final_train_loss"], rtol=1e-5)
    np.testing.assert_allclose(c["reference_train_loss"], s["reference_train_loss"][src],
                               rtol=1e-6)


def test_verdict_recomputed_from_series(arms):
    for r in arms:
        s, c = r.series, r.config
        loss = s["line_train_loss"]
        rise = np.max(loss - np.minimum.accumulate(loss, axis=1), axis=1)
        holds = bool(np.all(rise <= c["rise_tolerance"] * s["reference_train_loss"])
                     and np.all(s["final_train_accuracy"] >= c["min_train_accuracy"]))
        assert r.verdict.holds == holds
        np.testing.assert_allclose(r.metrics["max_relative_rise"],
                                   (rise / s["reference_train_loss"]).max())
        assert e1.verdict_of(s, e1.Config(**c)) == r.verdict
        assert f"{c['rise_tolerance']:g}" in r.verdict.rule


def test_verdict_both_directions():
    s = {"line_train_loss": np.array([[2.0, 1.0, 0.5, 0.1]]),
         "line_test_loss": np.array([[2.0, 1.0, 0.9, 0.5]]),
         "reference_train_loss": np.array([2.0]), "reference_test_loss": np.array([2.0]),
         "final_train_accuracy": np.array([1.0]), "final_test_accuracy": np.array([0.9])}
    assert e1.verdict_of(s, e1.Config()).holds  # monotone
    s["line_train_loss"] = np.array([[2.0, 1.0, 1.5, 0.1]])
    assert not e1.verdict_of(s, e1.Config()).holds  # rise 0.5 = 0.25 x the initial loss
    s["line_train_loss"] = np.array([[0.05, 0.06, 0.05]])  # from an optimum: rise 0.01
    assert e1.verdict_of(s, e1.Config()).holds  # 0.005 x the initial loss 2
    s["line_train_loss"] = np.array([[0.05, 0.5, 0.05]])  # a barrier of 0.45 = 0.225 x 2
    assert not e1.verdict_of(s, e1.Config()).holds
    s["line_train_loss"] = np.array([[2.0, 1.0, 0.5, 0.1]])
    s["final_train_accuracy"] = np.array([0.5])  # not trained
    assert not e1.verdict_of(s, e1.Config()).holds


def test_round_trip_and_plot(arms, tmp_path):
    for r in arms:
        back = load_result(save_result(r, tmp_path))
        assert back.kind == "real" and back.verdict == r.verdict and back.arm == r.arm
        assert back.config == r.config and back.metrics == r.metrics
        for key, arr in r.series.items():
            np.testing.assert_array_equal(back.series[key], arr)
        fig = Figure(figsize=(10, 4))
        e1.plot(back, fig)
        assert len(fig.axes) == 2 and all(ax.has_data() for ax in fig.axes)
        fig.savefig(tmp_path / f"e1-{r.arm}.png")


def test_deterministic_for_a_seed(result):
    again = e1.run(e1.smoke_config(), seed=replicate_sequence(0, 0))
    assert again.metrics.keys() == result.metrics.keys()
    for key, arr in result.series.items():
        np.testing.assert_array_equal(again.series[key], arr)
