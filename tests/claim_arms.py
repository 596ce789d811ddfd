"""Runs both arms of a claim the way a unit of work does (tests import this module).

``run_arms(module, config)`` returns the claim arm's and the control arm's Result for one
replicate, each on the replicate's SeedSequence, exactly as :func:`landsim.units.run_unit`
runs them. A claim test asserts that the rule passes on the claim and fails on its control:
the rule can go both ways.
"""

from __future__ import annotations

import dataclasses

from landsim.results import Result
from landsim.seeding import replicate_sequence


def run_arms(module, config, seed: int = 0, replicate: int = 0) -> tuple[Result, Result]:
    """(claim result, control result) of one replicate of ``module`` on ``config``."""
    ss = replicate_sequence(seed, replicate)
    claim = module.run(config=config, seed=ss)
    control = module.run(config=module.control_config(config), seed=ss)
    return claim, dataclasses.replace(control, arm="control")


def assert_rule_discriminates(claim: Result, control: Result) -> None:
    """The rule holds on the claim arm and fails on the control arm, with the same rule."""
    assert claim.verdict.holds, f"the claim arm should hold: {claim.verdict.evidence}"
    assert not control.verdict.holds, (f"the control arm should fail: "
                                       f"{control.verdict.evidence}")
