"""One replicate, one unit of work: (claim, kind, arm, config, seed, replicate) -> Result.

A claim's verdict is an aggregation over stored results (:mod:`landsim.verdicts`); the
results come from units, each an independent, self-describing piece of work:

>>> units = plan_units(["E1"], kind="toy", quick=True, replicates=3, seed=0)
>>> [(u.claim, u.arm, u.replicate) for u in units]   # doctest: +NORMALIZE_WHITESPACE
[('E1', 'claim', 0), ('E1', 'control', 0), ('E1', 'claim', 1), ('E1', 'control', 1),
 ('E1', 'claim', 2), ('E1', 'control', 2)]
>>> result = run_unit(units[0])          # one stored-ready Result

``landsim reproduce``, the job service and any executor run exactly these units:
:func:`run_unit` is the whole seam. A unit holds only plain, picklable values (its config is
the experiment's frozen Config dataclass), so it can be sent to another process.

The arms. ``"claim"`` runs ``config`` itself; ``"control"`` runs the module's
``control_config(config)``, the configuration where the claim must not hold, under the
same rule. Both arms of one replicate draw from the same seed sequence (a paired design:
the control differs from the claim only in what the control changes).

Seeds. Replicate ``i`` of root seed ``s`` runs on ``SeedSequence(s, spawn_key=(i,))``
(:func:`landsim.seeding.replicate_sequence`); the experiment spawns its own streams from
it. No offsets, so replicates and root seeds share no stream.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ._checks import choice, int_at_least
from .results import ARMS, KINDS, Result
from .seeding import check_seed, replicate_sequence

__all__ = ["Unit", "plan_units", "run_unit", "experiment_module", "default_replicates",
           "REGISTRIES", "DEFAULT_REPLICATES"]

#: The experiment registry of each kind (the real one imports torch).
REGISTRIES = {"toy": "landsim.experiments", "real": "landsim.real.experiments"}
#: Replicates per claim when none are asked for: {(kind, quick): n}.
DEFAULT_REPLICATES = {("toy", False): 5, ("toy", True): 3, ("real", False): 3,
                      ("real", True): 2}

Progress = Callable[[float, str], None] | None


def default_replicates(kind: str, quick: bool) -> int:
    """Replicates per claim by default: toy 5 (quick 3), real 3 (quick 2)."""
    return DEFAULT_REPLICATES[(choice("kind", kind, KINDS), bool(quick))]


def experiment_module(claim: str, kind: str = "toy") -> ModuleType:
    """The module of claim ``claim`` ("E1" .. "E7") of ``kind`` ("toy" or "real")."""
    choice("kind", kind, KINDS)
    registry = importlib.import_module(REGISTRIES[kind])
    return registry.get(claim)


@dataclass(frozen=True)
class Unit:
    """One replicate of one arm of one claim.

    Attributes
    ----------
    claim : str
        "E1" .. "E7".
    kind : {"toy", "real"}
    config : dataclass
        The experiment's ``Config`` of the claim arm (the control derives its own from it).
    seed : int
        Root seed, in [0, 2^63 - 1].
    replicate : int
        Replicate index, >= 0.
    arm : {"claim", "control"}
    """

    claim: str
    kind: str
    config: Any
    seed: int = 0
    replicate: int = 0
    arm: str = "claim"

    def __post_init__(self) -> None:
        choice("kind", self.kind, KINDS)
        choice("arm", self.arm, ARMS)
        int_at_least("replicate", self.replicate, 0)
        object.__setattr__(self, "seed", check_seed(self.seed))
        if not dataclasses.is_dataclass(self.config) or isinstance(self.config, type):
            raise ValueError(f"config must be an experiment Config instance, got "
                             f"{self.config!r}")

    @property
    def label(self) -> str:
        """Short name for progress lines, e.g. ``E1 toy claim r0``."""
        return f"{self.claim} {self.kind} {self.arm} r{self.replicate}"

    def run_config(self, module: ModuleType | None = None):
        """The config this unit runs: ``config``, or the module's control of it."""
        module = module or experiment_module(self.claim, self.kind)
        if self.arm == "claim":
            return self.config
        return module.control_config(self.config)


def run_unit(unit: Unit, progress: Progress = None) -> Result:
    """Run one unit and return its Result (arm, seed and replicate recorded in it)."""
    module = experiment_module(unit.claim, unit.kind)
    config = unit.run_config(module)
    result = module.run(config=config, seed=replicate_sequence(unit.seed, unit.replicate),
                        progress=progress)
    return dataclasses.replace(result, seed=unit.seed, replicate=unit.replicate, arm=unit.arm)


def plan_units(claims: Sequence[str], kind: str = "toy", *, quick: bool = False,
               replicates: int | None = None, seed: int = 0, controls: bool = True,
               configure: Callable[[Any], Any] | None = None) -> list[Unit]:
    """The units of a reproduction: every claim x replicate x arm, replicate-major.

    Parameters
    ----------
    claims : sequence of str
        Claim ids.
    kind : {"toy", "real"}
    quick : bool
        Start from each module's ``quick_config()`` instead of ``Config()``.
    replicates : int, optional
        Replicates per claim (>= 1); default :func:`default_replicates`.
    seed : int
        Root seed.
    controls : bool
        Add the control arm of every replicate.
    configure : callable, optional
        Applied to each claim's base config (e.g. to set the device).

    Returns
    -------
    list of Unit
        For each claim, replicate 0's claim and control, then replicate 1's, ...
    """
    n = default_replicates(kind, quick) if replicates is None else \
        int_at_least("replicates", replicates, 1)
    arms = ARMS if controls else ("claim",)
    units = []
    for claim in claims:
        module = experiment_module(claim, kind)
        config = module.quick_config() if quick else module.Config()
        if configure is not None:
            config = configure(config)
        units += [Unit(claim, kind, config, seed=seed, replicate=i, arm=arm)
                  for i in range(n) for arm in arms]
    return units
