"""The claims E1..E7 of MODEL.md section 3, one module each, on the analytic landscape.

Every module exposes the same small interface:

- ``ID`` ("E1"), ``TITLE`` (short) and ``CLAIM`` (the paper's claim, one sentence);
- ``Config``: a frozen dataclass, validated in ``__post_init__``, whose defaults run in
  seconds (the default suite stays under 5 minutes on 2 cores), and
  ``quick_config()`` returning a smaller one (the whole quick suite under 1 minute);
- ``run(config=None, seed=0, progress=None) -> Result``: ``progress(fraction, message)``
  is called as the work advances; the verdict is computed from the numbers;
- ``plot(result, fig)``: draws the claim's figure from the stored result onto a
  matplotlib Figure (no recomputation; matplotlib is imported by the caller).
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
