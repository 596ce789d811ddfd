"""E5 on a trained network: radial sections through the origin and the optimum; the rule
passes on the trained network and fails on the same network trained on permuted labels."""

from __future__ import annotations

import dataclasses
import io
import math

import numpy as np
import pytest
import torch
from claim_arms import assert_rule_discriminates, run_arms
from matplotlib.figure import Figure

from landsim.experiments import get as get_toy
from landsim.real import sections
from landsim.real.data import digits
from landsim.real.experiments import get
from landsim.results import load_result, save_result

E5 = get("E5")


@pytest.fixture(scope="module")
def arms():
    return run_arms(E5, E5.smoke_config())


@pytest.fixture(scope="module")
def smoke(arms):
    return arms[0]


def test_rule_passes_on_the_trained_network_and_fails_on_permuted_labels(arms):
    claim, control = arms
    assert_rule_discriminates(claim, control)
    cfg = E5.smoke_config()
    assert claim.metrics["judged_radii"] >= cfg.min_judged_radii
    assert claim.metrics["elasticity"] >= cfg.min_elasticity
    # the control network was trained the same way but fits no low-loss solution of its task
    assert control.config["permute_labels"] and not claim.config["permute_labels"]
    assert control.metrics["optimum_loss"] > 10 * cfg.low_loss
    assert control.metrics["ray_low_radii"] == 0 and control.metrics["judged_radii"] == 0


def test_control_config_changes_the_world_not_the_rule():
    for cfg in (E5.Config(), E5.quick_config(), E5.smoke_config()):
        ctl = E5.control_config(cfg)
        for name in E5.RULE_FIELDS:
            assert getattr(ctl, name) == getattr(cfg, name), name
        assert ctl.permute_labels and not cfg.permute_labels
        assert dataclasses.replace(ctl, permute_labels=False) == cfg
    # the rule is the toy's: same fields, same thresholds
    toy = get_toy("E5")
    assert E5.RULE_FIELDS == toy.RULE_FIELDS
    for name in E5.RULE_FIELDS:
        if name != "low_loss":  # nats on a network, exact membership on the model
            assert getattr(E5.Config(), name) == getattr(toy.Config(), name), name
    assert E5.KEY_METRICS[0] == "elasticity" and 3 <= len(E5.KEY_METRICS) <= 6


def test_permuted_labels_keeps_inputs_and_class_counts():
    ds = digits(seed=0).subset(200, 50)
    seq = np.random.SeedSequence(5)
    a, b = E5.permuted_labels(ds, seq), E5.permuted_labels(ds, seq)
    assert torch.equal(a.y_train, b.y_train)  # the same stream, the same permutation
    assert torch.equal(a.x_train, ds.x_train) and torch.equal(a.y_test, ds.y_test)
    assert torch.equal(torch.bincount(a.y_train, minlength=10),
                       torch.bincount(ds.y_train, minlength=10))
    assert (a.y_train != ds.y_train).float().mean() > 0.5  # most labels changed
    other = E5.permuted_labels(ds, np.random.SeedSequence(6))
    assert not torch.equal(other.y_train, a.y_train)


@pytest.mark.parametrize("changes, message", [
    ({"n_angles": 47}, "n_angles must be even"),
    ({"n_angles": 4}, "n_angles must be an integer >= 8, got 4"),
    ({"n_radii": 2}, "n_radii must be an integer >= 3, got 2"),
    ({"low_loss": 0.0}, r"low_loss must be in \]0, inf\[, got 0.0"),
    ({"r_max_scale": -1.0}, r"r_max_scale must be in \]0, inf\["),
    ({"min_rank_corr": 1.5}, r"min_rank_corr must be in \]0, 1\], got 1.5"),
    ({"min_elasticity": -1.0}, r"min_elasticity must be in \]0, inf\[, got -1.0"),
    ({"min_judged_radii": 9, "n_radii": 8},
     r"min_judged_radii must be in \[3, n_radii = 8\], got 9"),
    ({"min_arc_cells": 360}, r"min_arc_cells must be in \[1, n_angles - 1 = 359\], got 360"),
    ({"permute_labels": 1}, "permute_labels must be True or False, got 1"),
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
    assert full.r_max_scale == 2.0  # the toy's r_max / optimum_radius
    assert E5.radius_scales(full)[-1] == full.r_max_scale


def test_smoke_result_shapes_and_kind(smoke):
    cfg = E5.smoke_config()
    s, m = smoke.series, smoke.metrics
    assert smoke.experiment == "E5" and smoke.kind == "real"
    R, A, S = cfg.n_radii, cfg.n_angles, cfg.n_sections
    assert s["radii"].shape == s["scales"].shape == s["mean_width"].shape == (R,)
    assert s["angles"].shape == (A,)
    assert s["section_loss"].shape == s["section_accuracy"].shape == (R, A)
    assert s["widths"].shape == s["arc_cells"].shape == (S, R)
    assert s["judged"].shape == s["ray_low"].shape == (R,)
    np.testing.assert_allclose(s["radii"], m["optimum_norm"] * s["scales"])
    np.testing.assert_allclose(s["mean_width"], s["widths"].mean(axis=0))
    np.testing.assert_allclose(s["widths"], s["radii"] * m["angular_step"] * s["arc_cells"])
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


def test_verdict_and_widths_recompute_from_the_stored_series(arms):
    for result in arms:
        cfg = E5.Config(**result.config)
        s = result.series
        # section 0's width from its stored loss grid
        sec = sections.RadialSection(s["section_loss"], s["section_accuracy"], s["radii"],
                                     s["angles"], None, None, None)
        arc = sections.low_loss_width(sec, cfg.low_loss)
        np.testing.assert_allclose(arc.width, s["widths"][0])
        np.testing.assert_array_equal(arc.cells, s["arc_cells"][0])
        centre = s["angles"].size // 2
        # the ray is shared by all sections, so section 0 decides where it is low-loss
        np.testing.assert_array_equal(s["section_loss"][:, centre] <= cfg.low_loss,
                                      s["ray_low"].astype(bool))
        judgement = get_toy("E5").judge_widening(cfg, s["radii"], s["widths"], s["arc_cells"],
                                                 s["ray_low"].astype(bool), cfg.n_angles)
        assert judgement.verdict == result.verdict
        np.testing.assert_array_equal(judgement.judged, s["judged"].astype(bool))
        for key, value in judgement.metrics.items():
            assert result.metrics[key] == pytest.approx(value, nan_ok=True)


def test_save_load_round_trip_and_plot(arms, tmp_path):
    for result in arms:
        back = load_result(save_result(result, tmp_path))
        assert back.kind == "real" and back.config == result.config and back.arm == result.arm
        assert back.verdict == result.verdict
        assert back.metrics.keys() == result.metrics.keys()
        for k, v in result.series.items():
            np.testing.assert_array_equal(back.series[k], v)
        fig = Figure(figsize=(12, 4))
        E5.plot(back, fig)
        assert len(fig.axes) >= 2
        fig.savefig(io.BytesIO(), format="png")


def test_same_seed_same_result(smoke):
    again = run_arms(E5, E5.smoke_config())[0]
    np.testing.assert_array_equal(again.series["widths"], smoke.series["widths"])
    np.testing.assert_array_equal(again.series["section_loss"], smoke.series["section_loss"])
    assert again.verdict == smoke.verdict
