"""The shared numeric helpers of landsim.analysis (toy and real experiments use them)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from landsim import analysis


def test_line_fit_recovers_a_line_and_a_flat_line_has_r2_zero():
    x = np.arange(5.0)
    assert analysis.line_fit(x, 2 * x + 1) == pytest.approx((2.0, 1.0, 1.0))
    assert analysis.line_fit(x, np.full(5, 3.0))[2] == 0.0


def test_log_slope_is_the_elasticity():
    r = np.array([1.0, 2.0, 4.0, 8.0])
    assert analysis.log_slope(r, 3 * r) == pytest.approx(1.0)
    assert analysis.log_slope(r, np.full(4, 0.5)) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("corr", [analysis.rank_corr, analysis.spearman])
def test_rank_correlations_match_scipy_and_give_zero_for_a_constant(corr):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=20), rng.integers(0, 5, size=20).astype(float)  # ties in y
    assert corr(x, y) == pytest.approx(spearmanr(x, y).statistic)
    assert corr(x, np.ones(20)) == 0.0


def test_onset_robust_is_the_smaller_with_and_without_the_first_point():
    r = np.array([1.0, 2.0, 3.0, 4.0])
    w = np.array([5.0, 1.0, 2.0, 3.0])
    assert analysis.onset_robust(analysis.rank_corr, r, w) == pytest.approx(
        min(analysis.rank_corr(r, w), 1.0))


def test_knob_offset_share_is_zero_on_one_curve_and_large_with_offsets():
    log_r = np.tile(np.linspace(0.0, 1.0, 5), 3)
    groups = np.repeat(np.arange(3), 5)
    share, r2 = analysis.knob_offset_share(log_r, 2 * log_r, groups)
    assert share == pytest.approx(0.0, abs=1e-12) and r2 == pytest.approx(1.0)
    share, _ = analysis.knob_offset_share(log_r, 2 * log_r + 5 * groups, groups)
    assert share > 0.5
    assert all(math.isnan(v) for v in analysis.knob_offset_share(log_r, np.ones(15), groups))


def test_rises():
    prof = np.array([[3.0, 2.0, 2.5, 1.0], [3.0, 2.0, 1.0, 0.0]])
    np.testing.assert_allclose(analysis.largest_rise(prof), [0.5, 0.0])
    np.testing.assert_allclose(analysis.relative_rise([0.5, 0.0, 1.0], [2.0, 0.0, 0.0]),
                               [0.25, 0.0, np.inf])


def test_relative_barriers():
    assert analysis.relative_barriers(2.0, 0.5, 4.0) == (0.5, 0.25)
    assert analysis.relative_barriers(0.0, 0.0, 0.0) == (0.0, 0.0)
    assert analysis.relative_barriers(1.0, 0.5, 0.0) == (math.inf, 0.5)
    assert analysis.relative_barriers(0.0, 0.5, 1.0) == (0.0, math.inf)


def test_growth_and_grows_clearly():
    assert analysis.growth([2.0, 3.0, 4.0]) == 2.0
    assert math.isnan(analysis.growth([0.0, 1.0]))
    assert analysis.grows_clearly([2.0, 3.0, 4.0], 1.5)
    assert not analysis.grows_clearly([2.0, 5.0, 4.0], 1.5)  # decreases once
    assert not analysis.grows_clearly([2.0, np.nan, 4.0], 1.5)


def test_section_angles_put_theta_zero_at_the_middle():
    theta = analysis.section_angles(8)
    assert theta.shape == (8,) and theta[4] == 0.0 and theta[0] == pytest.approx(-math.pi)


def test_snapshot_sets_and_swa_excess():
    assert analysis.SNAPSHOT_SOURCES == ("one_run", "hopping")
    np.testing.assert_array_equal(analysis.set_runs(3, 2, "one_run"), [[0, 0], [1, 1], [2, 2]])
    hop = analysis.set_runs(3, 2, "hopping")
    np.testing.assert_array_equal(hop, [[0, 1], [1, 2], [2, 0]])
    per_run = np.arange(6.0).reshape(3, 2)  # value of run i, snapshot j is 2 i + j
    np.testing.assert_array_equal(analysis.gather_sets(per_run, hop), [[0, 3], [2, 5], [4, 1]])
    np.testing.assert_allclose(analysis.swa_excess([1.0, 4.0], [[1.0, 3.0], [4.0, 4.0]], 2.0),
                               [-0.5, 0.0])
    with pytest.raises(ValueError, match="source must be one of"):
        analysis.set_runs(3, 2, "other")


def test_toy_and_real_modules_share_the_same_objects():
    from landsim.experiments import get
    assert get("E1").largest_rise is analysis.largest_rise
    assert get("E1").LINE_STARTS is analysis.LINE_STARTS
    assert get("E6").set_runs is analysis.set_runs
    assert get("E7").spearman is analysis.spearman
