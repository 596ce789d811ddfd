"""Real-network E3: straight line vs trained chain and Bezier curve (smoke-sized config);
the control (network b trained on from network a's optimum) has no line barrier."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from landsim import paths
from landsim.real import curves
from landsim.real.experiments import _setup
from landsim.real.experiments import e3_tunnels as e3
from landsim.results import load_result, save_result
from tests.claim_arms import assert_rule_discriminates, run_arms


def arms_config() -> e3.Config:
    """The smoke networks with the curves fitted for 20 epochs: at 5 (smoke_config) the
    curves keep about 35 % of the line's barrier, so the claim arm needs the longer fit."""
    return dataclasses.replace(e3.smoke_config(), curve_epochs=20)


@pytest.fixture(scope="module")
def arms():
    """(claim, control) of replicate 0 on :func:`arms_config`."""
    return run_arms(e3, arms_config(), seed=0, replicate=0)


@pytest.fixture(scope="module")
def result(arms):
    return arms[0]


def test_rule_passes_on_the_claim_and_fails_on_the_control(arms):
    claim, control = arms
    assert_rule_discriminates(claim, control)
    cfg = arms_config()
    assert control.metrics["line_relative_barrier"] < cfg.min_line_barrier
    assert claim.metrics["line_relative_barrier"] > 5 * cfg.min_line_barrier
    # paired design: same data, same network a, same reference loss L_ref
    for key in ("init_train_loss", "t"):
        np.testing.assert_array_equal(control.series[key], claim.series[key])
    assert control.series["final_train_loss"][0] == claim.series["final_train_loss"][0]
    # on the control, b starts at a: its training curve starts at a's final loss
    assert control.series["train_curve_loss"][1, 0] == pytest.approx(
        control.series["final_train_loss"][0], rel=1e-9)
    assert control.metrics["optima_distance"] < 0.5 * claim.metrics["optima_distance"]


def test_control_config_changes_only_the_world():
    for cfg in (e3.Config(), e3.quick_config(), e3.smoke_config()):
        ctrl = e3.control_config(cfg)
        for name in e3.RULE_FIELDS:
            assert getattr(ctrl, name) == getattr(cfg, name)
        changed = {f.name for f in dataclasses.fields(cfg)
                   if getattr(cfg, f.name) != getattr(ctrl, f.name)}
        assert changed == {"second_start"} and ctrl.second_start == "first_optimum"
    assert set(e3.RULE_FIELDS) <= {f.name for f in dataclasses.fields(e3.Config)}
    assert 3 <= len(e3.KEY_METRICS) <= 6 and e3.CONTROL


def test_key_metrics_are_recorded(arms):
    for r in arms:
        assert set(e3.KEY_METRICS) <= set(r.metrics)
        assert r.metrics["line_relative_barrier"] == pytest.approx(
            r.metrics["linear_barrier"] / r.series["init_train_loss"].mean(), rel=1e-12)


def test_second_network_starts_from_the_first_optimum_on_the_control():
    cfg = dataclasses.replace(e3.smoke_config(), epochs=1, second_start="first_optimum")
    ds = _setup.load_dataset(cfg, 0)
    nets, init_losses = e3.train_pair(cfg, ds, 0)
    torch.testing.assert_close(nets.runs[1].init, nets.runs[0].flat, rtol=0, atol=0)
    claim_nets, claim_losses = e3.train_pair(
        dataclasses.replace(cfg, second_start="own_init"), ds, 0)
    np.testing.assert_array_equal(init_losses, claim_losses)
    torch.testing.assert_close(nets.runs[0].flat, claim_nets.runs[0].flat, rtol=0, atol=0)
    assert nets.seeds == claim_nets.seeds


def _series(line, chain, bezier, acc=(1.0, 1.0), init=(2.3, 2.3)) -> dict:
    """Hand-made profiles on t = 0, 1/2, 1 with the given peak over the chord 0.1 -> 0.1."""
    t = np.array([0.0, 0.5, 1.0])
    out = {"t": t, "final_train_accuracy": np.array(acc), "init_train_loss": np.array(init)}
    for key, peak in (("line", line), ("chain", chain), ("bezier", bezier)):
        out[f"{key}_train_loss"] = np.array([0.1, 0.1 + peak, 0.1])
        out[f"{key}_test_loss"] = np.array([0.2, 0.2 + 2 * peak, 0.2])
    return out


@pytest.mark.parametrize("line, chain, bezier, acc, holds", [
    (1.0, 0.05, 0.2, (1.0, 0.95), True),  # barrier 43 % of L_ref, the chain keeps 5 %
    (1.0, 0.3, 0.09, (1.0, 1.0), True),  # ... or the Bezier keeps 9 %
    (1.0, 0.3, 0.2, (1.0, 1.0), False),  # both curves keep >= 20 %: no tunnel found
    (0.02, 0.0, 0.0, (1.0, 1.0), False),  # line barrier 0.87 % of L_ref: one basin
    (0.0, 0.0, 0.0, (1.0, 1.0), False),  # no barrier at all
    (1.0, 0.05, 0.2, (1.0, 0.8), False),  # network b did not train
])
def test_verdict_of_both_directions(line, chain, bezier, acc, holds):
    v = e3.verdict_of(_series(line, chain, bezier, acc), e3.Config())
    assert v.holds is holds
    assert f"line barrier {line:.4g}" in v.evidence


@pytest.mark.parametrize("change, match", [
    ({"curve_epochs": 0}, "curve_epochs"), ({"samples_per_step": 0}, "samples_per_step"),
    ({"path_points": 2}, "path_points"), ({"min_line_barrier": -1.0}, "min_line_barrier"),
    ({"barrier_fraction": float("nan")}, "barrier_fraction"), ({"width": 0}, "width"),
    ({"second_start": "init"}, "second_start must be one of"),
])
def test_config_rejects_bad_values(change, match):
    with pytest.raises(ValueError, match=match):
        e3.Config(**change)


def test_interface_and_shapes(result):
    cfg = arms_config()
    assert result.kind == "real" and result.experiment == "E3"
    s = result.series
    assert s["t"].shape == (cfg.path_points,)
    for p in e3.PATHS:
        for q in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
            assert s[f"{p}_{q}"].shape == (cfg.path_points,)
    for key in e3.TRAINED:
        assert s[f"{key}_fit_epoch"][-1] == cfg.curve_epochs


def test_curves_equal_their_end_networks(result):
    """Every path starts at network a and ends at network b: at t = 0 and t = 1 its
    profile equals the line's, and both equal the trainer's own final losses."""
    s = result.series
    for p in e3.TRAINED:
        np.testing.assert_allclose(s[f"{p}_train_loss"][[0, -1]], s["line_train_loss"][[0, -1]],
                                   rtol=1e-5)
        np.testing.assert_allclose(s[f"{p}_test_loss"][[0, -1]], s["line_test_loss"][[0, -1]],
                                   rtol=1e-5)
    np.testing.assert_allclose(s["line_train_loss"][[0, -1]], s["final_train_loss"], rtol=1e-5)


def test_curve_modules_reproduce_the_ends_exactly():
    cfg = e3.smoke_config()
    ds = _setup.load_dataset(cfg, 0)
    nets = _setup.train_networks(cfg.__class__(**{**cfg.__dict__, "epochs": 1}), ds, 2, 0)
    a, b = nets.runs[0].flat, nets.runs[1].flat
    for kind in curves.CURVES:
        path = curves.make_curve(kind, a, b)
        for prm in path.parameters():  # move the free point off the line
            prm.data += torch.randn(prm.shape, generator=torch.Generator().manual_seed(0))
        ends = path.points(torch.tensor([0.0, 1.0], dtype=a.dtype))
        torch.testing.assert_close(ends, torch.stack([a, b]), rtol=0, atol=0)


def test_barriers_match_landsim_paths(result):
    s, m = result.series, result.metrics
    assert m["linear_barrier"] == paths.barrier(s["line_train_loss"], s["t"])
    assert m["linear_test_barrier"] == paths.barrier(s["line_test_loss"], s["t"])
    chord = s["line_train_loss"][0] + s["t"] * (s["line_train_loss"][-1]
                                                - s["line_train_loss"][0])
    np.testing.assert_allclose(m["linear_barrier"], max((s["line_train_loss"] - chord).max(),
                                                        0.0), atol=1e-12)
    for p in e3.TRAINED:
        assert m[f"{p}_barrier"] == paths.barrier(s[f"{p}_train_loss"], s["t"])


def test_verdict_recomputed_from_series(result):
    s, m, c = result.series, result.metrics, result.config
    line = m["linear_barrier"]
    best = min(m["chain_barrier"], m["bezier_barrier"])
    holds = (np.all(s["final_train_accuracy"] >= c["min_train_accuracy"])
             and line / s["init_train_loss"].mean() >= c["min_line_barrier"] and line > 0
             and best / line <= c["barrier_fraction"])
    assert result.verdict.holds == bool(holds)
    assert e3.verdict_of(s, e3.Config(**c)) == result.verdict


def test_round_trip_and_plot(result, tmp_path):
    back = load_result(save_result(result, tmp_path))
    assert back.kind == "real" and back.verdict == result.verdict
    for key, arr in result.series.items():
        np.testing.assert_array_equal(back.series[key], arr)
    fig = Figure(figsize=(10, 4))
    e3.plot(back, fig)
    assert len(fig.axes) == 2 and all(ax.has_data() for ax in fig.axes)
    fig.savefig(tmp_path / "e3.png")
