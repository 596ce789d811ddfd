"""The claims E1..E7 (docs/claims.md), one module each, on the analytic landscape.

Every module exposes the same small interface (the real-network modules of
:mod:`landsim.real.experiments` too):

- ``ID`` ("E1"), ``TITLE`` (short) and ``CLAIM`` (the paper's claim, one sentence);
- ``Config``: a frozen dataclass, validated in ``__post_init__``, holding both the
  configuration of the world (landscape or networks) and the rule's thresholds, and
  ``quick_config()`` returning a smaller one;
- ``CONTROL`` (one sentence) and ``control_config(config) -> Config``: the negative
  control, a configuration where the claim must not hold, derived from ``config``. It
  changes the world, never the rule's thresholds, so the same rule that passes on the
  claim must fail on it (docs/claims.md says why for each claim);
- ``KEY_METRICS``: names of the metrics that are aggregated over replicates (mean and 95%
  interval); the first is the statistic the rule judges;
- ``run(config=None, seed=0, progress=None) -> Result``: ``seed`` is an integer or the
  replicate's :class:`numpy.random.SeedSequence`; every random draw comes from a stream
  spawned from it (:func:`landsim.seeding.streams`), one per purpose, never from an offset
  seed; ``progress(fraction, message)`` is called as the work advances; the verdict is
  computed from the numbers by the rule of docs/claims.md;
- ``plot(result, fig)``: draws the claim's figure from the stored result onto a
  matplotlib Figure (no recomputation; matplotlib is imported by the caller).

A unit of work (:mod:`landsim.units`) runs one arm of one replicate; the claim's verdict
aggregates the stored results (:mod:`landsim.verdicts`).
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXPERIMENT_IDS", "get", "load"]

_MODULES = {
    "E1": "e1_init_to_optimum",
    "E2": "e2_intrinsic_dimension",
    "E3": "e3_tunnels",
    "E4": "e4_m_tunnels",
    "E5": "e5_radial_tunnels",
    "E6": "e6_weight_averaging",
    "E7": "e7_hyperparameters",
}
EXPERIMENT_IDS = tuple(_MODULES)


def load(package: str, experiment_id: str) -> ModuleType:
    """The module of claim ``experiment_id`` in a registry package that follows the naming
    of this one (``landsim.experiments`` or ``landsim.real.experiments``)."""
    if experiment_id not in _MODULES:
        raise ValueError(f"experiment must be one of {EXPERIMENT_IDS}, got {experiment_id!r}")
    return importlib.import_module(f"{package}.{_MODULES[experiment_id]}")


def get(experiment_id: str) -> ModuleType:
    """The module of one claim, e.g. ``get("E3")``."""
    return load(__name__, experiment_id)
