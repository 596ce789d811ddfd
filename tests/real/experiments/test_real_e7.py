"""E7 on trained networks: lr, width and L2 against the large-scale curvature."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from landsim.real.experiments import get
from landsim.real.experiments._setup import load_dataset, model_spec
from landsim.real.flat import FlatModel
from landsim.results import load_result, save_result
from tests.claim_arms import run_arms

E7 = get("E7")


@pytest.fixture(scope="module")
def arms():
    return run_arms(E7, E7.smoke_config())


@pytest.mark.parametrize("changes, message", [
    ({"lr_values": (0.1, 0.05, 0.2)}, "lr_values must be strictly increasing"),
    ({"lr_values": (0.1, 0.2)}, "lr_values must be a sequence of at least 3 values"),
    ({"width_values": (8, 16.5, 32)}, r"width_values\[1\] must be an integer >= 1, got 16.5"),
    ({"l2_values": (-1e-3, 0.0, 1e-3)}, r"l2_values\[0\] must be in \[0, inf\["),
    ({"l2": -0.1}, r"l2 must be in \[0, inf\[, got -0.1"),
    ({"n_networks": 0}, "n_networks must be an integer >= 1, got 0"),
    ({"target_loss": 0.0}, r"target_loss must be in \]0, inf\["),
    ({"check_every": 0}, "check_every must be an integer >= 1, got 0"),
    ({"untrained": 1}, "untrained must be a bool, got 1"),
    ({"probe_length": -1.0}, r"probe_length must be in \]0, inf\["),
    ({"min_pooled_rank_corr": 2.0}, r"min_pooled_rank_corr must be in \[0, 1\], got 2.0"),
    ({"hvp_method": "finite"}, "hvp_method must be one of"),
])
def test_config_rejects_bad_values(changes, message):
    with pytest.raises(ValueError, match=message):
        E7.Config(**changes)


def test_control_changes_the_world_not_the_rule():
    cfg = E7.quick_config()
    ctrl = E7.control_config(cfg)
    assert ctrl.untrained and not cfg.untrained
    for name in E7.RULE_FIELDS:
        assert getattr(ctrl, name) == getattr(cfg, name)
    changed = {f.name for f in dataclasses.fields(cfg)
               if getattr(cfg, f.name) != getattr(ctrl, f.name)}
    assert changed == {"untrained"}
    assert E7.Config().n_networks >= 3 and cfg.n_networks >= 3


def test_control_fails_because_lr_and_l2_cannot_move_an_untrained_network(arms):
    claim, control = arms
    m = control.metrics
    assert not control.verdict.holds
    assert m["lr_radius_ratio"] == 1.0 and m["l2_radius_ratio"] == 1.0
    assert "every knob moves the radius" in control.verdict.evidence
    assert m["width_radius_ratio"] > 1.05  # the width changes the network itself
    # the claim arm is judged by the same rule, recomputed from its stored series
    cfg = E7.Config(**claim.config)
    again = E7.sweep_metrics(claim.series, E7.KNOBS, cfg.min_direction_corr)
    assert E7.judge(cfg, again, E7.KNOBS).holds == claim.verdict.holds
    for key in E7.KEY_METRICS:
        assert key in claim.metrics and key in control.metrics


def test_training_stops_at_the_target(arms):
    claim, _ = arms
    cfg = E7.smoke_config()
    s = claim.series
    reached = np.concatenate([s[f"{k}_reached_networks"].ravel() for k in E7.KNOBS])
    losses = np.concatenate([s[f"{k}_train_loss_networks"].ravel() for k in E7.KNOBS])
    epochs = np.concatenate([s[f"{k}_epochs_used_networks"].ravel() for k in E7.KNOBS])
    assert np.all(losses[reached == 1] <= cfg.target_loss)
    assert np.all(epochs[reached == 0] == cfg.epochs)  # a miss used the whole cap
    assert np.all(epochs <= cfg.epochs)
    # missed_target counts the distinct (setting, network) runs that missed
    assert 0 <= claim.metrics["missed_target"] <= claim.metrics["trained_runs"]
    n_settings = sum(len(getattr(cfg, f"{k}_values")) for k in E7.KNOBS) - 2
    assert claim.metrics["trained_runs"] == n_settings * cfg.n_networks
    # P grows with the width
    assert np.all(np.diff(s["width_n_params"]) > 0)


def test_train_to_target_with_a_reached_target_takes_no_step():
    cfg = E7.smoke_config()
    ds = load_dataset(cfg, 0)
    fm = FlatModel(model_spec(cfg).build(ds.input_shape, ds.n_classes, 1), "cpu")
    before = fm.get_flat().clone()
    loss, steps, reached = E7.train_to_target(fm, ds, cfg, 0.0, 1, target=100.0,
                                              max_epochs=3, check_every=1)
    assert steps == 0 and reached and torch.equal(fm.get_flat(), before)
    loss, steps, reached = E7.train_to_target(fm, ds, cfg, 0.0, 1, target=1e-9,
                                              max_epochs=2, check_every=1)
    assert not reached and steps == 2 * int(np.ceil(ds.n_train / cfg.batch_size))
    assert loss == pytest.approx(fm.evaluate(fm.get_flat(), ds.x_train, ds.y_train)[0],
                                 rel=1e-5)


def test_probe_curvature_is_the_fixed_step_rise(arms):
    claim, _ = arms
    s = claim.series
    for knob in E7.KNOBS:
        assert np.all(np.isfinite(s[f"{knob}_curvature"]))
        assert np.all(s[f"{knob}_top_eigenvalue"] > 0)  # trained nets sit near minima
        # the base setting (shared by every sweep) gives the same numbers: common seeds
    base = {k: list(s[f"{k}_values"]).index(v) for k, v in
            (("lr", 0.1), ("width", 16), ("l2", 1e-3))}
    for q in ("radius", "curvature", "top_eigenvalue"):
        assert s[f"width_{q}"][base["width"]] == s[f"lr_{q}"][base["lr"]]
        assert s[f"l2_{q}"][base["l2"]] == s[f"lr_{q}"][base["lr"]]


def test_save_load_round_trip_and_plot(arms, tmp_path):
    claim, _ = arms
    back = load_result(save_result(claim, tmp_path))
    assert back.kind == "real" and back.config == claim.config
    assert back.verdict == claim.verdict and back.metrics.keys() == claim.metrics.keys()
    for k, v in claim.series.items():
        np.testing.assert_array_equal(back.series[k], v)
    fig = Figure(figsize=(14, 4))
    E7.plot(back, fig)
    assert len(fig.axes) == 7
    fig.savefig(io.BytesIO(), format="png")
