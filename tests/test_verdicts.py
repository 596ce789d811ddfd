"""landsim.verdicts on synthetic results: the aggregation rule (ceil(0.8 R) of R on the claim,
ceil(0.8 R_c) failures on the control), the Student-t intervals, input checks, grouping, and
the rebuild of verdicts from stored results."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from landsim.results import Result, Verdict, load_results, save_result
from landsim.verdicts import (
    CONFIDENCE,
    REQUIRED_FRACTION,
    aggregate,
    aggregate_claim,
    mean_interval,
    required_count,
)

CONFIG = {"dim": 10, "tolerance": 0.01, "shape": [2, 3]}


def result(holds: bool, arm: str = "claim", replicate: int = 0, *, seed: int = 0,
           experiment: str = "E1", kind: str = "toy", metrics: dict | None = None,
           config: dict | None = None) -> Result:
    """A synthetic stored result (no experiment is run)."""
    if metrics is None:
        metrics = {"stat": 0.1 * replicate + (0.0 if holds else 1.0), "other": 2.0}
    return Result(experiment=experiment, kind=kind, config=dict(config or CONFIG), seed=seed,
                  version="test", timings={"total": 0.5}, metrics=metrics,
                  series={"curve": np.linspace(0.0, 1.0, 5) * (replicate + 1),
                          "index": np.arange(4, dtype=np.int64)},
                  verdict=Verdict(bool(holds), "stat <= 0.5",
                                  f"stat is {'small' if holds else 'large'}"),
                  machine="test", arm=arm, replicate=replicate)


def arm_results(passes: list[bool], arm: str, **kw) -> list[Result]:
    return [result(h, arm, i, **kw) for i, h in enumerate(passes)]


def pattern(n: int, k: int, rng: np.random.Generator) -> list[bool]:
    """n flags, k of them True, at random places."""
    flags = np.zeros(n, dtype=bool)
    flags[rng.choice(n, size=k, replace=False)] = True
    return [bool(f) for f in flags]


# ---- required_count ------------------------------------------------------------------------

@pytest.mark.parametrize("n, need", [(1, 1), (2, 2), (3, 3), (4, 4), (5, 4), (6, 5), (10, 8),
                                     (15, 12), (20, 16)])
def test_required_count_table(n, need):
    assert required_count(n) == need


def test_required_count_is_exact_ceiling_of_four_fifths():
    assert REQUIRED_FRACTION == 0.8
    for n in range(1, 501):
        # exact integer arithmetic: the smallest k with 5 k >= 4 n
        assert required_count(n) == -(-4 * n // 5), n


@pytest.mark.parametrize("bad", [0, -1, -10])
def test_required_count_rejects_no_replicates(bad):
    with pytest.raises(ValueError, match=str(bad)):
        required_count(bad)


# ---- the status ----------------------------------------------------------------------------

NEED = {1: 1, 2: 2, 3: 3, 4: 4, 5: 4}


def expected_status(r: int, k: int, rc: int, j: int) -> str:
    """k of r claim replicates passed, j of rc control replicates failed."""
    if k < NEED[r]:
        return "does not hold"
    if j < NEED[rc]:
        return "not discriminating"
    return "holds"


def test_status_over_every_count_for_one_to_five_replicates():
    rng = np.random.default_rng(0)
    for r, rc in itertools.product(range(1, 6), repeat=2):
        for k, j in itertools.product(range(r + 1), range(rc + 1)):
            claim = arm_results(pattern(r, k, rng), "claim")
            control = arm_results([not f for f in pattern(rc, j, rng)], "control")
            mixed = claim + control
            rng.shuffle(mixed)
            v = aggregate_claim(mixed)
            assert v.status == expected_status(r, k, rc, j), (r, k, rc, j)
            assert v.holds == (v.status == "holds")
            assert (v.claim.n, v.claim.passes, v.claim.fails) == (r, k, r - k)
            assert (v.control.n, v.control.passes, v.control.fails) == (rc, rc - j, j)
            assert v.claim.replicates == tuple(range(r))
            assert v.control.replicates == tuple(range(rc))
            assert f"held in {k} of {r} replicates (needed {NEED[r]})" in v.evidence
            assert f"failed in {j} of {rc} (needed {NEED[rc]})" in v.evidence


@pytest.mark.parametrize("r", [1, 2, 3, 4, 5])
def test_holds_exactly_at_the_threshold(r):
    need = NEED[r]
    at = arm_results([True] * need + [False] * (r - need), "claim")
    ctrl = arm_results([False] * NEED[r] + [True] * (r - NEED[r]), "control")
    assert aggregate_claim(at + ctrl).status == "holds"


@pytest.mark.parametrize("r", [1, 2, 3, 4, 5])
def test_does_not_hold_when_short_by_one(r):
    need = NEED[r]
    short = arm_results([True] * (need - 1) + [False] * (r - need + 1), "claim")
    ctrl = arm_results([False] * r, "control")
    v = aggregate_claim(short + ctrl)
    assert v.status == "does not hold" and not v.holds


@pytest.mark.parametrize("r", [1, 2, 3, 4, 5])
def test_not_discriminating_when_the_control_passes(r):
    claim = arm_results([True] * r, "claim")
    # the control fails one replicate short of what is needed
    ctrl = arm_results([False] * (NEED[r] - 1) + [True] * (r - NEED[r] + 1), "control")
    v = aggregate_claim(claim + ctrl)
    assert v.status == "not discriminating" and not v.holds
    # a control that passes everywhere
    v = aggregate_claim(claim + arm_results([True] * r, "control"))
    assert v.status == "not discriminating"


def test_no_control():
    v = aggregate_claim(arm_results([True] * 5, "claim"))
    assert v.status == "no control" and not v.holds and v.control is None
    assert "no control was run" in v.evidence
    # a claim that fails without a control does not hold
    assert aggregate_claim(arm_results([True] * 3 + [False] * 2, "claim")).status == \
        "does not hold"


def test_claim_and_control_counts_are_separate():
    # 5 claim replicates and 3 control replicates: 4 of 5 and 3 of 3
    claim = arm_results([True, True, False, True, True], "claim")
    assert aggregate_claim(claim + arm_results([False] * 3, "control")).status == "holds"
    assert aggregate_claim(claim + arm_results([False, True, False], "control")).status == \
        "not discriminating"


# ---- mean_interval -------------------------------------------------------------------------

@pytest.mark.parametrize("n", [2, 3, 4, 5, 8, 13, 30])
def test_mean_interval_matches_scipy_t_interval(n):
    rng = np.random.default_rng(n)
    for _ in range(5):
        x = rng.normal(rng.uniform(-5, 5), rng.uniform(0.01, 3.0), size=n)
        iv = mean_interval(x)
        low, high = stats.t.interval(CONFIDENCE, n - 1, loc=x.mean(), scale=stats.sem(x))
        assert iv.n == n and iv.missing == 0
        assert iv.mean == pytest.approx(x.mean(), rel=1e-12, abs=1e-12)
        assert iv.low == pytest.approx(low, rel=1e-10, abs=1e-12)
        assert iv.high == pytest.approx(high, rel=1e-10, abs=1e-12)
        assert iv.low < iv.mean < iv.high
        assert iv.values == tuple(float(v) for v in x)


def test_mean_interval_covers_the_true_mean_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    samples = rng.normal(3.0, 2.0, size=(4000, 4))
    covered = 0
    for row in samples:
        iv = mean_interval(row)
        covered += iv.low <= 3.0 <= iv.high
    # binomial(4000, 0.95): sd 0.0034; 5 sd either side
    assert abs(covered / len(samples) - 0.95) < 0.018


def test_mean_interval_of_one_value_has_nan_bounds():
    iv = mean_interval([2.5])
    assert iv.mean == 2.5 and iv.n == 1 and iv.missing == 0
    assert math.isnan(iv.low) and math.isnan(iv.high)


def test_mean_interval_of_nothing_finite():
    for values in ([], [math.nan], [math.inf, -math.inf, math.nan]):
        iv = mean_interval(values)
        assert iv.n == 0 and iv.missing == len(values)
        assert math.isnan(iv.mean) and math.isnan(iv.low) and math.isnan(iv.high)


def test_mean_interval_counts_non_finite_values_as_missing():
    values = [1.0, math.nan, 3.0, math.inf, -math.inf, 2.0]
    iv = mean_interval(values)
    ref = mean_interval([1.0, 3.0, 2.0])
    assert (iv.n, iv.missing) == (3, 3)
    assert (iv.mean, iv.low, iv.high) == (ref.mean, ref.low, ref.high)
    assert iv.mean == 2.0
    # every value kept, in order, non-finite ones included
    assert len(iv.values) == 6 and iv.values[0] == 1.0 and math.isnan(iv.values[1])
    assert iv.values[3] == math.inf and iv.values[4] == -math.inf
    # one finite value left: NaN bounds
    one = mean_interval([math.nan, 4.0])
    assert (one.n, one.missing, one.mean) == (1, 1, 4.0) and math.isnan(one.low)


def test_mean_interval_of_equal_values_is_a_point():
    iv = mean_interval([0.25] * 4)
    assert iv.mean == iv.low == iv.high == 0.25


def test_arm_statistics_in_replicate_order_with_missing_metrics():
    claim = [result(True, "claim", i, metrics={"stat": float(v), "other": 1.0})
             for i, v in enumerate([0.3, 0.1, math.nan, 0.2])]
    # a replicate that did not store the metric at all
    claim.append(result(True, "claim", 4, metrics={"other": 1.0}))
    rng = np.random.default_rng(3)
    shuffled = [claim[i] for i in rng.permutation(5)]
    v = aggregate_claim(shuffled, key_metrics=("stat", "absent"))
    assert v.key_metrics == ("stat", "absent")
    st = v.claim.stats["stat"]
    assert (st.n, st.missing) == (3, 2)
    assert st.values[:2] == (0.3, 0.1) and math.isnan(st.values[2]) and math.isnan(st.values[4])
    ref = mean_interval([0.3, 0.1, 0.2])
    assert (st.mean, st.low, st.high) == (ref.mean, ref.low, ref.high)
    assert v.claim.stats["absent"].n == 0 and v.claim.stats["absent"].missing == 5


def test_default_key_metrics_are_every_metric_of_a_claim_result():
    v = aggregate_claim(arm_results([True, True], "claim") + arm_results([False], "control"))
    assert set(v.key_metrics) == {"stat", "other"}
    assert set(v.claim.stats) == set(v.control.stats) == {"stat", "other"}
    assert v.claim.stats["other"].mean == 2.0
    assert v.control.stats["stat"].n == 1 and math.isnan(v.control.stats["stat"].low)


# ---- input checks --------------------------------------------------------------------------

def test_duplicate_arm_seed_replicate_raises():
    results = arm_results([True, True], "claim") + [result(False, "claim", 1)]
    with pytest.raises(ValueError, match="arm claim, seed 0, replicate 1"):
        aggregate_claim(results)
    ctrl = [result(False, "control", 0), result(False, "control", 0)]
    with pytest.raises(ValueError, match="arm control, seed 0, replicate 0"):
        aggregate_claim(arm_results([True], "claim") + ctrl)


def test_same_replicate_in_two_arms_or_two_seeds_is_not_a_duplicate():
    results = [result(True, "claim", 0, seed=0), result(True, "claim", 0, seed=1),
               result(False, "control", 0, seed=0), result(False, "control", 0, seed=1)]
    v = aggregate_claim(results)
    assert v.claim.n == 2 and v.control.n == 2 and v.status == "holds"


def test_mixed_configs_within_an_arm_raise_naming_the_fields():
    other = dict(CONFIG, tolerance=0.02, extra=1)
    results = [result(True, "claim", 0), result(True, "claim", 1, config=other)]
    with pytest.raises(ValueError) as info:
        aggregate_claim(results)
    message = str(info.value)
    assert "extra, tolerance" in message
    assert "dim" not in message and "shape" not in message
    # the control arm is checked too
    ctrl = [result(False, "control", 0), result(False, "control", 1,
                                                  config=dict(CONFIG, shape=[2, 4]))]
    with pytest.raises(ValueError, match="fields shape"):
        aggregate_claim(arm_results([True, True], "claim") + ctrl)


def test_the_control_may_have_its_own_config():
    ctrl = arm_results([False, False], "control", config=dict(CONFIG, dim=20))
    assert aggregate_claim(arm_results([True, True], "claim") + ctrl).status == "holds"


def test_aggregate_claim_rejects_bad_groups():
    with pytest.raises(ValueError, match="at least one"):
        aggregate_claim([])
    with pytest.raises(ValueError, match="one claim and one kind"):
        aggregate_claim([result(True), result(True, experiment="E2")])
    with pytest.raises(ValueError, match="one claim and one kind"):
        aggregate_claim([result(True), result(True, kind="real")])
    with pytest.raises(ValueError, match="no result of the claim arm"):
        aggregate_claim(arm_results([False, False], "control"))


# ---- aggregate -----------------------------------------------------------------------------

def mixed_store() -> list[Result]:
    out = []
    # E3 toy: holds
    out += arm_results([True] * 5, "claim", experiment="E3")
    out += arm_results([False] * 5, "control", experiment="E3")
    # E1 real: 1 of 2 -> does not hold
    out += arm_results([True, False], "claim", kind="real")
    out += arm_results([False, False], "control", kind="real")
    # E1 toy: control passes -> not discriminating
    out += arm_results([True] * 3, "claim")
    out += arm_results([True, False, True], "control")
    # E2 toy: only control results -> skipped
    out += arm_results([False] * 3, "control", experiment="E2")
    # E5 real: no control
    out += arm_results([True, True], "claim", experiment="E5", kind="real")
    return out


EXPECTED = [("E1", "real", "does not hold"), ("E1", "toy", "not discriminating"),
            ("E3", "toy", "holds"), ("E5", "real", "no control")]


def test_aggregate_groups_sorts_and_skips_control_only_groups():
    results = mixed_store()
    np.random.default_rng(5).shuffle(results)
    verdicts = aggregate(results)
    assert [(v.experiment, v.kind, v.status) for v in verdicts] == EXPECTED
    by = {(v.experiment, v.kind): v for v in verdicts}
    assert by[("E3", "toy")].claim.n == 5 and by[("E3", "toy")].control.fails == 5
    assert by[("E1", "toy")].control.passes == 2
    assert by[("E5", "real")].control is None


def test_aggregate_asks_key_metrics_per_claim_and_kind():
    asked = []

    def key_metrics(experiment, kind):
        asked.append((experiment, kind))
        return ("stat",) if kind == "toy" else ("other", "stat")

    verdicts = aggregate(mixed_store(), key_metrics)
    assert sorted(asked) == [(e, k) for e, k, _ in EXPECTED]
    for v in verdicts:
        assert v.key_metrics == (("stat",) if v.kind == "toy" else ("other", "stat"))
        assert tuple(v.claim.stats) == v.key_metrics


def test_aggregate_of_nothing():
    assert aggregate([]) == []
    assert aggregate(arm_results([False], "control")) == []


def test_verdicts_rebuild_from_stored_results(tmp_path):
    results = mixed_store()
    # a non-finite metric and a replicate index out of storage order survive the trip
    results.append(result(True, "claim", 7, experiment="E3",
                          metrics={"stat": math.nan, "other": math.inf}))
    for r in results:
        save_result(r, tmp_path)
    (tmp_path / "notes.json").write_text('{"not": "a result"}')
    loaded = load_results(tmp_path)
    assert len(loaded) == len(results)
    fresh, stored = aggregate(results), aggregate(loaded)
    assert [(v.experiment, v.kind, v.status) for v in stored] == \
        [(v.experiment, v.kind, v.status) for v in fresh] == EXPECTED
    for a, b in zip(fresh, stored):
        assert a.evidence == b.evidence
        assert a.claim.replicates == b.claim.replicates
        for name in a.key_metrics:
            x, y = a.claim.stats[name], b.claim.stats[name]
            assert (x.n, x.missing) == (y.n, y.missing)
            np.testing.assert_array_equal([x.mean, x.low, x.high], [y.mean, y.low, y.high])
            np.testing.assert_array_equal(x.values, y.values)
    e3 = next(v for v in stored if v.experiment == "E3")
    assert e3.claim.replicates == (0, 1, 2, 3, 4, 7)
    assert e3.claim.stats["stat"].missing == 1
    assert e3.claim.stats["other"].missing == 1
