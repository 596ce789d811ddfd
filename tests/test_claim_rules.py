"""The rule pieces toy and real experiments share (landsim.claim_rules)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from landsim import claim_rules
from landsim.experiments import get

WIDENING = SimpleNamespace(low_loss=1e-12, min_arc_cells=2, min_judged_radii=3,
                           min_elasticity=0.5, min_rank_corr=0.9)
CURVATURE = SimpleNamespace(probe_length=5.0, n_probe_directions=4, min_pooled_rank_corr=0.8,
                            max_knob_offset_share=0.1, min_curvature_ratio=1.25,
                            min_radius_ratio=1.05, min_direction_corr=0.5)


def test_toy_modules_keep_their_rule_names():
    E5, E7 = get("E5"), get("E7")
    assert E5.check_rule_fields is claim_rules.check_widening_fields
    assert E5.judge_widening is claim_rules.judge_widening
    assert E7.check_rule_fields is claim_rules.check_curvature_fields
    assert E7.judge is claim_rules.judge_curvature
    assert E7.sweep_metrics is claim_rules.sweep_metrics


def test_widening_rule_passes_a_cone_and_fails_a_strip():
    radii = np.arange(1.0, 7.0)
    cells = np.full((2, 6), 10)
    ray = np.ones(6, dtype=bool)
    cone = claim_rules.judge_widening(WIDENING, radii, np.stack([radii, 2 * radii]), cells,
                                      ray, 64)
    assert cone.verdict.holds and cone.metrics["elasticity"] == pytest.approx(1.0)
    strip = claim_rules.judge_widening(WIDENING, radii, np.ones((2, 6)), cells, ray, 64)
    assert not strip.verdict.holds
    few = claim_rules.judge_widening(WIDENING, radii, np.stack([radii, radii]), cells,
                                     np.arange(6) < 2, 64)
    assert not few.verdict.holds and few.metrics["judged_radii"] == 2.0


def test_widening_fields_are_validated():
    claim_rules.check_widening_fields(WIDENING, n_radii=8, n_angles=64)
    with pytest.raises(ValueError, match=r"min_judged_radii must be in \[3, n_radii = 2\]"):
        claim_rules.check_widening_fields(WIDENING, n_radii=2, n_angles=64)


def test_curvature_rule_on_one_curve_and_on_separate_curves():
    values = np.array([1.0, 2.0, 4.0])
    sweeps = {k: (values, r, 1.0 / r) for k, r in
              (("a", np.array([1.0, 2.0, 3.0])), ("b", np.array([1.5, 2.5, 3.5])))}
    m = claim_rules.rule_metrics(sweeps, CURVATURE.min_direction_corr)
    assert m["pooled_rank_corr"] == pytest.approx(-1.0)
    assert claim_rules.judge_curvature(CURVATURE, m, ("a", "b")).holds
    flat = {k: (values, r, np.ones(3)) for k, (_, r, _) in sweeps.items()}
    m = claim_rules.rule_metrics(flat, CURVATURE.min_direction_corr)
    assert not claim_rules.judge_curvature(CURVATURE, m, ("a", "b")).holds


def test_sweeps_are_validated():
    assert claim_rules.check_sweep("lr_values", [0.1, 0.2, 0.4], True) == (0.1, 0.2, 0.4)
    with pytest.raises(ValueError, match="lr_values must be strictly increasing"):
        claim_rules.check_sweep("lr_values", (0.1, 0.1, 0.4), True)
    claim_rules.check_curvature_fields(CURVATURE)
