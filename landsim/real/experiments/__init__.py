"""The claims E1..E7 of docs/model.md, section 3 measured on trained networks (kind "real").

The same ids and the same interface as the toy suite (:mod:`landsim.experiments`):
``ID``, ``TITLE``, ``CLAIM``, a frozen ``Config`` (defaults sized for ``landsim reproduce
--real``), ``quick_config()`` (the whole quick suite on digits within 10 minutes on 2 CPU
cores), ``smoke_config()`` (seconds; what CI runs), ``run(config=None, seed=0,
progress=None) -> Result`` with ``kind="real"`` and ``plot(result, fig)``. Every config has
a ``device`` field ("cpu" or "cuda"). Importing this package imports torch.
"""

from __future__ import annotations

from types import ModuleType

from ...experiments import EXPERIMENT_IDS, load

__all__ = ["EXPERIMENT_IDS", "get"]


def get(experiment_id: str) -> ModuleType:
    """The module of one real-network claim, e.g. ``get("E3")``."""
    return load(__name__, experiment_id)
