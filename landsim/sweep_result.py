"""A whole sweep as one Result: what a sweep job of the service returns.

The job service runs a sweep as one job and hands back one Result, so that GetJobResult
and every client keep working unchanged. :func:`sweep_result` builds it from the unit
results stored in the sweep's directory:

- ``config`` is ``{"sweep": spec_dict(spec), "units": [...]}``, one entry per unit in
  plan order: its grid point (field -> value), replicate, arm, file stem, node, metrics
  (null where not finite: JSON has no NaN), and its verdict (holds, rule, evidence);
- ``metrics`` counts the units: ``units``, ``units_holding``, ``holds_fraction``;
- ``series`` holds one float array per metric name, ``unit_<metric>`` of shape
  (n_units,), NaN where a unit lacks that metric, plus ``unit_holds`` (bool),
  ``unit_replicate`` (int) and ``unit_control`` (bool), all in the same order;
- the verdict holds when every unit's own rule held.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from os import PathLike

import numpy as np

from . import __version__
from .results import Result, Verdict
from .sweep import SweepSpec, plan, spec_dict, stored

__all__ = ["sweep_result", "SWEEP_RULE"]

SWEEP_RULE = "every unit's own rule holds (each unit is judged as in landsim reproduce)"


def _point(point: Sequence) -> dict:
    return {name: list(v) if isinstance(v, tuple) else v for name, v in point}


def sweep_result(spec: SweepSpec, out: str | PathLike, seconds: float = 0.0) -> Result:
    """The Result of a finished sweep (every unit stored under ``out``).

    Parameters
    ----------
    spec : SweepSpec
    out : path
        The sweep's directory, as given to :func:`landsim.sweep.execute`.
    seconds : float
        Wall time of the sweep, stored as ``timings["total"]``.

    Raises
    ------
    ValueError
        A unit of the plan has no stored result (the sweep did not finish).
    """
    sweep_units = plan(spec)
    results = stored(sweep_units, out)
    missing = [su.label for su in sweep_units if su.stem not in results]
    if missing:
        raise ValueError(f"{len(missing)} of {len(sweep_units)} units have no stored result, "
                         f"e.g. {missing[0]}")
    rs = [results[su.stem] for su in sweep_units]
    units = [{"point": _point(su.point), "replicate": su.unit.replicate, "arm": su.unit.arm,
              "stem": su.stem, "node": r.node,
              "metrics": {m: (v if np.isfinite(v) else None) for m, v in r.metrics.items()},
              "holds": r.verdict.holds, "rule": r.verdict.rule,
              "evidence": r.verdict.evidence}
             for su, r in zip(sweep_units, rs)]
    names = sorted({k for r in rs for k in r.metrics})
    series = {f"unit_{k}": np.array([r.metrics.get(k, np.nan) for r in rs], dtype=float)
              for k in names}
    holds = np.array([r.verdict.holds for r in rs], dtype=bool)
    series.update(unit_holds=holds,
                  unit_replicate=np.array([su.unit.replicate for su in sweep_units],
                                          dtype=np.int64),
                  unit_control=np.array([su.unit.arm == "control" for su in sweep_units],
                                        dtype=bool))
    n, k = len(rs), int(holds.sum())
    verdict = Verdict(holds=bool(k == n), rule=SWEEP_RULE,
                      evidence=f"{k} of {n} units held their rule")
    return Result(experiment=spec.claim, kind=spec.kind,
                  config={"sweep": spec_dict(spec), "units": units}, seed=spec.root_seed,
                  version=__version__, timings={"total": float(seconds)},
                  metrics={"units": n, "units_holding": k, "holds_fraction": k / n},
                  series=series, verdict=verdict,
                  machine=f"{platform.machine()} {platform.system()} "
                          f"Python {platform.python_version()}")
