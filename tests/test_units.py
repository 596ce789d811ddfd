"""landsim.units: planning units (order, arms, replicates, configs) and running one unit
(seed sequence, arm's config, recorded identity, bit-for-bit reproducibility)."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from landsim import experiments
from landsim.results import load_results, save_result
from landsim.seeding import SEED_MAX, replicate_sequence
from landsim.units import (
    DEFAULT_REPLICATES,
    Unit,
    default_replicates,
    experiment_module,
    plan_units,
    run_unit,
)
from landsim.verdicts import aggregate

# the two fastest quick toy claims (about 0.1 s a run once the kernels are cached)
FAST = ("E1", "E6")


def stored_config(config) -> dict:
    """A config as a Result stores it (JSON values: tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def assert_bit_identical(a, b) -> None:
    assert a.metrics.keys() == b.metrics.keys()
    for k in a.metrics:
        x, y = a.metrics[k], b.metrics[k]
        assert x == y or (math.isnan(x) and math.isnan(y)), k
    assert a.series.keys() == b.series.keys()
    for k in a.series:
        assert a.series[k].dtype == b.series[k].dtype, k
        assert a.series[k].shape == b.series[k].shape, k
        assert np.array_equal(a.series[k], b.series[k], equal_nan=a.series[k].dtype.kind
                              in "fc"), k
    assert a.verdict == b.verdict
    assert a.config == b.config


def any_series_differs(a, b) -> bool:
    return any(a.series[k].shape != b.series[k].shape
               or not np.array_equal(a.series[k], b.series[k], equal_nan=True)
               for k in a.series if a.series[k].dtype.kind in "fc")


# ---- plan_units ----------------------------------------------------------------------------

def test_plan_units_order_arms_and_replicates():
    units = plan_units(["E1", "E6"], kind="toy", quick=True, replicates=3, seed=5)
    expected = [(claim, i, arm) for claim in ("E1", "E6") for i in range(3)
                for arm in ("claim", "control")]
    assert [(u.claim, u.replicate, u.arm) for u in units] == expected
    assert all(u.kind == "toy" and u.seed == 5 for u in units)
    for u in units:
        module = experiments.get(u.claim)
        # every unit holds the claim arm's config; the control derives its own when run
        assert u.config == module.quick_config()
        assert isinstance(u.config, module.Config)
    # units are distinct work items
    assert len(set(units)) == len(units)


def test_plan_units_without_controls():
    units = plan_units(["E6"], quick=True, replicates=4, seed=2, controls=False)
    assert [(u.replicate, u.arm) for u in units] == [(i, "claim") for i in range(4)]


@pytest.mark.parametrize("quick", [False, True])
def test_plan_units_default_replicates_and_config(quick):
    units = plan_units(["E1"], quick=quick)
    n = DEFAULT_REPLICATES[("toy", quick)]
    assert n == default_replicates("toy", quick) == (3 if quick else 5)
    assert len(units) == 2 * n
    assert [u.replicate for u in units] == [i for i in range(n) for _ in range(2)]
    module = experiments.get("E1")
    assert all(u.config == (module.quick_config() if quick else module.Config())
               for u in units)
    assert all(u.seed == 0 for u in units)


def test_default_replicates_of_each_kind():
    assert default_replicates("toy", False) == 5
    assert default_replicates("toy", True) == 3
    assert default_replicates("real", False) == 3
    assert default_replicates("real", True) == 2
    with pytest.raises(ValueError, match="kind"):
        default_replicates("gpu", True)


def test_plan_units_configure_hook_applies_once_per_claim_to_the_base_config():
    seen = []

    def configure(config):
        seen.append(config)
        return dataclasses.replace(config, lr=config.lr / 2)

    units = plan_units(["E1", "E1"], quick=True, replicates=2, configure=configure)
    module = experiments.get("E1")
    assert seen == [module.quick_config(), module.quick_config()]
    assert all(u.config == dataclasses.replace(module.quick_config(),
                                               lr=module.quick_config().lr / 2)
               for u in units)
    # the control arm derives from the configured config
    assert units[1].run_config() == module.control_config(units[1].config)
    assert units[1].run_config().lr == module.quick_config().lr / 2


@pytest.mark.parametrize("kwargs, match", [
    (dict(claims=["E1"], replicates=0), "replicates"),
    (dict(claims=["E1"], replicates=True), "replicates"),
    (dict(claims=["E1"], kind="gpu"), "kind"),
    (dict(claims=["E9"]), "E9"),
    (dict(claims=["E1"], seed=-1), "-1"),
])
def test_plan_units_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        plan_units(**kwargs)


def test_experiment_module():
    assert experiment_module("E3") is experiments.get("E3")
    with pytest.raises(ValueError, match="kind"):
        experiment_module("E3", "gpu")
    with pytest.raises(ValueError, match="E0"):
        experiment_module("E0")


# ---- Unit validation -----------------------------------------------------------------------

CFG = experiments.get("E1").quick_config()


@pytest.mark.parametrize("kwargs, match", [
    (dict(kind="gpu"), "kind"),
    (dict(kind=None), "kind"),
    (dict(arm="treatment"), "arm"),
    (dict(arm="Claim"), "arm"),
    (dict(replicate=-1), "replicate.*-1"),
    (dict(replicate=True), "replicate.*True"),
    (dict(replicate=1.0), "replicate"),
    (dict(seed=-1), "seed.*-1"),
    (dict(seed=True), "seed.*True"),
    (dict(seed=SEED_MAX + 1), f"seed.*{SEED_MAX + 1}"),
    (dict(seed=2.0), "seed"),
    (dict(seed="0"), "seed"),
    (dict(config={"dim": 10}), "config"),
    (dict(config=experiments.get("E1").Config), "config"),
    (dict(config=None), "config"),
])
def test_unit_validation(kwargs, match):
    args = dict(claim="E1", kind="toy", config=CFG) | kwargs
    with pytest.raises(ValueError, match=match):
        Unit(**args)


def test_unit_accepts_the_extremes_and_labels():
    u = Unit("E1", "toy", CFG, seed=SEED_MAX, replicate=0, arm="control")
    assert u.label == "E1 toy control r0"
    assert Unit("E1", "toy", CFG, seed=0, replicate=12).label == "E1 toy claim r12"


def test_unit_run_config():
    module = experiments.get("E1")
    assert Unit("E1", "toy", CFG).run_config() is CFG
    ctrl = Unit("E1", "toy", CFG, arm="control").run_config()
    assert ctrl == module.control_config(CFG) and ctrl != CFG


# ---- run_unit ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def e1_runs():
    """E1 quick: claim r0 (twice), control r0, claim r1, and the seed-1 claim r0."""
    cfg = experiments.get("E1").quick_config()
    return {
        "claim": run_unit(Unit("E1", "toy", cfg, seed=0, replicate=0)),
        "claim_again": run_unit(Unit("E1", "toy", cfg, seed=0, replicate=0)),
        "control": run_unit(Unit("E1", "toy", cfg, seed=0, replicate=0, arm="control")),
        "r1": run_unit(Unit("E1", "toy", cfg, seed=0, replicate=1)),
        "seed1": run_unit(Unit("E1", "toy", cfg, seed=1, replicate=0)),
    }


def test_run_unit_records_the_unit(e1_runs):
    cfg = experiments.get("E1").quick_config()
    claim, control, r1 = e1_runs["claim"], e1_runs["control"], e1_runs["r1"]
    assert (claim.experiment, claim.kind, claim.arm, claim.seed, claim.replicate) == \
        ("E1", "toy", "claim", 0, 0)
    assert (control.arm, control.seed, control.replicate) == ("control", 0, 0)
    assert (r1.arm, r1.seed, r1.replicate) == ("claim", 0, 1)
    assert e1_runs["seed1"].seed == 1
    assert claim.stem == "E1-toy-claim-seed0-r0"
    assert claim.config == stored_config(cfg)
    assert set(experiments.get("E1").KEY_METRICS) <= set(claim.metrics)


def test_control_arm_runs_control_config(e1_runs):
    module = experiments.get("E1")
    cfg = module.quick_config()
    control = e1_runs["control"]
    assert control.config == stored_config(module.control_config(cfg))
    assert control.config != e1_runs["claim"].config
    assert control.config["line_start"] == "other_optimum"
    # the rule goes both ways on this replicate: holds on the claim, fails on the control
    assert e1_runs["claim"].verdict.holds
    assert not control.verdict.holds
    # same rule text (thresholds untouched by the control)
    assert control.verdict.rule == e1_runs["claim"].verdict.rule


def test_arms_of_one_replicate_are_paired(e1_runs):
    # E1's control changes only where the line starts: same landscape, starts and descents,
    # since both arms run on the same replicate sequence
    claim, control = e1_runs["claim"], e1_runs["control"]
    for k in ("descent_loss", "optimum_wedge"):
        assert np.array_equal(claim.series[k], control.series[k]), k
    assert not np.array_equal(claim.series["line_loss"], control.series["line_loss"])


def test_same_unit_twice_is_bit_identical(e1_runs):
    assert_bit_identical(e1_runs["claim"], e1_runs["claim_again"])


def test_replicates_and_root_seeds_differ(e1_runs):
    claim = e1_runs["claim"]
    assert any_series_differs(claim, e1_runs["r1"])
    assert any_series_differs(claim, e1_runs["seed1"])
    # no offset: seed 0 replicate 1 is not seed 1 replicate 0
    assert any_series_differs(e1_runs["r1"], e1_runs["seed1"])
    assert not np.array_equal(claim.series["descent_loss"], e1_runs["r1"].series["descent_loss"])


def test_run_unit_is_module_run_on_the_replicate_sequence(e1_runs):
    module = experiments.get("E1")
    direct = module.run(config=module.quick_config(), seed=replicate_sequence(0, 1))
    assert (direct.seed, direct.replicate) == (0, 1)
    assert_bit_identical(direct, e1_runs["r1"])


@pytest.mark.parametrize("claim", FAST)
def test_run_unit_twice_bit_identical_and_reports_progress(claim):
    cfg = experiments.get(claim).quick_config()
    calls = []
    a = run_unit(Unit(claim, "toy", cfg, seed=3, replicate=2, arm="control"),
                 progress=lambda f, m: calls.append((f, m)))
    b = run_unit(Unit(claim, "toy", cfg, seed=3, replicate=2, arm="control"))
    assert (a.arm, a.seed, a.replicate) == ("control", 3, 2)
    assert_bit_identical(a, b)
    assert calls, "progress was never called"
    fractions = [f for f, _ in calls]
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions == sorted(fractions)
    assert all(isinstance(m, str) for _, m in calls)


def test_planned_units_run_store_and_aggregate(tmp_path):
    units = plan_units(["E6"], quick=True, replicates=2, seed=4)
    results = [run_unit(u) for u in units]
    for r in results:
        save_result(r, tmp_path)
    loaded = load_results(tmp_path)
    assert [(r.arm, r.replicate) for r in loaded] == \
        [("claim", 0), ("claim", 1), ("control", 0), ("control", 1)]
    by_key = {(r.arm, r.replicate): r for r in results}
    for r in loaded:
        assert_bit_identical(r, by_key[(r.arm, r.replicate)])
    module = experiments.get("E6")
    fresh = aggregate(results, lambda e, k: module.KEY_METRICS)
    stored = aggregate(loaded, lambda e, k: module.KEY_METRICS)
    assert [v.status for v in fresh] == [v.status for v in stored]
    assert fresh[0].claim.passes == stored[0].claim.passes
    assert fresh[0].control.fails == stored[0].control.fails
