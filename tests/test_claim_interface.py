"""Every claim module (toy and real) exposes the shared interface of
landsim.experiments, and its negative control changes the world, never the rule.

Only configs are built here; no experiment is run."""

from __future__ import annotations

import dataclasses
import importlib
import inspect

import pytest

from landsim import experiments
from landsim.experiments import EXPERIMENT_IDS

IDS = list(EXPERIMENT_IDS)


def real_module(claim: str):
    pytest.importorskip("torch")
    return importlib.import_module("landsim.real.experiments").get(claim)


def module_of(kind: str, claim: str):
    return experiments.get(claim) if kind == "toy" else real_module(claim)


CASES = [pytest.param(kind, claim, id=f"{kind}-{claim}") for kind in ("toy", "real")
         for claim in IDS]


def test_the_registry_lists_seven_claims():
    assert IDS == [f"E{i}" for i in range(1, 8)]


@pytest.mark.parametrize("kind, claim", CASES)
def test_module_constants(kind, claim):
    m = module_of(kind, claim)
    assert m.ID == claim
    for name in ("TITLE", "CLAIM", "CONTROL"):
        value = getattr(m, name)
        assert isinstance(value, str) and value.strip(), name
    assert m.CONTROL != m.CLAIM
    assert isinstance(m.KEY_METRICS, tuple) and m.KEY_METRICS
    assert all(isinstance(k, str) and k for k in m.KEY_METRICS)
    assert len(set(m.KEY_METRICS)) == len(m.KEY_METRICS)
    assert isinstance(m.RULE_FIELDS, tuple) and m.RULE_FIELDS
    assert len(set(m.RULE_FIELDS)) == len(m.RULE_FIELDS)
    for name in ("quick_config", "control_config", "run", "plot"):
        assert callable(getattr(m, name)), name
    assert list(inspect.signature(m.run).parameters)[:3] == ["config", "seed", "progress"]


@pytest.mark.parametrize("kind, claim", CASES)
def test_config_is_a_frozen_dataclass_with_the_rule_fields(kind, claim):
    m = module_of(kind, claim)
    assert dataclasses.is_dataclass(m.Config) and m.Config.__dataclass_params__.frozen
    fields = {f.name for f in dataclasses.fields(m.Config)}
    missing = set(m.RULE_FIELDS) - fields
    assert not missing, f"RULE_FIELDS names that are not Config fields: {sorted(missing)}"
    cfg = m.Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(cfg, dataclasses.fields(m.Config)[0].name, None)
    quick = m.quick_config()
    assert isinstance(quick, m.Config)
    if kind == "real":
        assert "device" in fields


@pytest.mark.parametrize("base", ["default", "quick"])
@pytest.mark.parametrize("kind, claim", CASES)
def test_control_changes_the_world_never_the_rule(kind, claim, base):
    m = module_of(kind, claim)
    cfg = m.Config() if base == "default" else m.quick_config()
    before = dataclasses.replace(cfg)
    ctrl = m.control_config(cfg)
    assert type(ctrl) is m.Config
    assert cfg == before, "control_config must not change its input"
    assert ctrl != cfg, "the control must differ from the claim's config"
    # a valid Config: re-running its validation does not raise
    assert dataclasses.replace(ctrl) == ctrl
    assert m.Config(**{f.name: getattr(ctrl, f.name) for f in dataclasses.fields(ctrl)}) == ctrl
    changed = [f.name for f in dataclasses.fields(cfg)
               if getattr(cfg, f.name) != getattr(ctrl, f.name)]
    assert changed
    touched = set(changed) & set(m.RULE_FIELDS)
    assert not touched, f"the control changes rule fields {sorted(touched)}"
    # the control is a function of the config: same input, same control
    assert m.control_config(cfg) == ctrl


@pytest.mark.parametrize("kind, claim", CASES)
def test_control_follows_a_changed_rule_threshold(kind, claim):
    # change a numeric rule field on the claim: the control keeps the changed value (it is
    # derived from the given config, not from the defaults)
    m = module_of(kind, claim)
    cfg = m.quick_config()
    for name in m.RULE_FIELDS:
        value = getattr(cfg, name)
        if isinstance(value, float) and not isinstance(value, bool):
            for factor in (1.01, 0.99):
                try:
                    moved = dataclasses.replace(cfg, **{name: value * factor})
                except ValueError:
                    continue
                assert getattr(m.control_config(moved), name) == value * factor
                break
