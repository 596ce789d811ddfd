"""Run scaffolding (landsim.experiment_kit) and the deprecated landsim.experiments._common."""

from __future__ import annotations

import importlib

import pytest

from landsim import experiment_kit


def test_report_clamps_and_skips_none():
    seen = []
    experiment_kit.report(lambda f, m: seen.append((f, m)), 1.5, "done")
    experiment_kit.report(lambda f, m: seen.append((f, m)), -1, "start")
    experiment_kit.report(None, 0.5, "nothing")
    assert seen == [(1.0, "done"), (0.0, "start")]


def test_timer_accumulates_phases_and_adds_a_total():
    timer = experiment_kit.Timer()
    for _ in range(2):
        with timer("phase"):
            pass
    out = timer.done()
    assert set(out) == {"phase", "total"} and out["total"] >= out["phase"] >= 0.0


@pytest.mark.parametrize("name, home", [("Progress", "landsim.experiment_kit"),
                                        ("Timer", "landsim.experiment_kit"),
                                        ("report", "landsim.experiment_kit"),
                                        ("line_fit", "landsim.analysis")])
def test_old_common_names_warn_and_still_work(name, home):
    common = importlib.import_module("landsim.experiments._common")
    with pytest.warns(DeprecationWarning, match=f"moved to {home}.{name}"):
        obj = getattr(common, name)
    assert obj is getattr(importlib.import_module(home), name)


def test_old_check_landscape_fields_warns_and_applies_the_one_rule():
    common = importlib.import_module("landsim.experiments._common")
    with pytest.warns(DeprecationWarning, match="LandscapeParams"):
        check = common.check_landscape_fields

    class Cfg:
        dim, n_wedges, n_short, eps0, eps1 = 10, 2, 10, 0.0, 0.0

    with pytest.raises(ValueError, match=r"n_short must be an integer in \[1, dim - 1 = 9\]"):
        check(Cfg())
    Cfg.n_short = 3
    with pytest.raises(ValueError, match="n_wedges must be an integer >= 3, got 2"):
        check(Cfg(), min_wedges=3)
    check(Cfg())
    with pytest.raises(AttributeError):
        common.no_such_name  # noqa: B018
