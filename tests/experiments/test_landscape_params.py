"""The landscape block every toy Config shares (LandscapeParams), validated once."""

from __future__ import annotations

import dataclasses

import pytest

from landsim.experiments import EXPERIMENT_IDS, get
from landsim.experiments._landscape import LandscapeParams
from landsim.spec import EPS1_DEFAULT

LANDSCAPE = ("dim", "n_wedges", "n_short", "eps0", "eps1")


def test_defaults_come_from_the_spec():
    p = LandscapeParams()
    assert p.eps1 == EPS1_DEFAULT
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.dim = 3


@pytest.mark.parametrize("experiment_id", EXPERIMENT_IDS)
def test_every_toy_config_is_landscape_params_with_its_fields_first(experiment_id):
    module = get(experiment_id)
    cfg = module.Config()
    assert isinstance(cfg, LandscapeParams)
    names = [f.name for f in dataclasses.fields(cfg)]
    assert tuple(names[:5]) == LANDSCAPE
    # the CLI and the job service build Configs from field names: keywords still work
    again = module.Config(**{n: getattr(cfg, n) for n in names})
    assert again == cfg


@pytest.mark.parametrize("experiment_id", EXPERIMENT_IDS)
@pytest.mark.parametrize("kwargs, message", [
    (dict(dim=1), "dim must be an integer >= 2, got 1"),
    (dict(eps0=-1.0), r"eps0 must be in \[0, inf\[, got -1.0"),
    (dict(eps1=-1.0), r"eps1 must be in \[0, inf\[, got -1.0"),
])
def test_every_toy_config_applies_the_one_validation(experiment_id, kwargs, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(get(experiment_id).Config(), **kwargs)


@pytest.mark.parametrize("experiment_id, least", [("E1", 1), ("E3", 2), ("E4", 6)])
def test_min_wedges_per_experiment(experiment_id, least):
    cfg = get(experiment_id).Config()
    assert cfg.min_wedges() == least
    with pytest.raises(ValueError, match=f"n_wedges must be an integer >= {least}"):
        dataclasses.replace(cfg, n_wedges=least - 1)


def test_n_short_rule_is_the_spec_rule_for_scalars_and_tuples():
    with pytest.raises(ValueError, match=r"^n_short must be an integer in \[1, dim - 1 = 9\] "
                                         r"\(a wedge needs at least one long direction\)"):
        LandscapeParams(dim=10, n_short=10)
    with pytest.raises(ValueError, match=r"^n_short\[1\] must be an integer in \[1, dim - 1"):
        LandscapeParams(dim=10, n_short=(2, 10))
    assert LandscapeParams(dim=10, n_short=(2, 9)).n_short == (2, 9)
