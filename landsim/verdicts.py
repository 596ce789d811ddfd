"""A claim's verdict over its replicates and its control, computed from stored results.

Each stored :class:`~landsim.results.Result` is one arm ("claim" or "control") of one
replicate of one claim of one kind. :func:`aggregate` groups them by (claim, kind) and
applies the rule fixed in docs/claims.md ("Aggregation over replicates"):

- the claim arm must hold in at least ``ceil(REQUIRED_FRACTION R)`` of its R replicates
  (4 of 5, 3 of 3, 2 of 2);
- the control arm must *fail* the same rule in at least ``ceil(REQUIRED_FRACTION R_c)`` of
  its R_c replicates: a rule that also passes where the claim must not hold has shown
  nothing, and the claim is then reported as "not discriminating", which does not hold.

Outcomes (:attr:`ClaimVerdict.status`): ``"holds"``, ``"does not hold"`` (the claim arm
fell short), ``"not discriminating"`` (the claim arm passed, the control did not fail),
``"no control"`` (no control results stored: the rule was not seen to fail, so the claim
does not hold as a test). Only ``"holds"`` counts as holding, for the report and for
``landsim reproduce --strict``.

The key statistics of each arm (the module's ``KEY_METRICS``) are summarised as the mean
and the 95% interval of the mean over replicates (Student t, n - 1 degrees of freedom;
NaN bounds for a single replicate; non-finite values are left out and counted).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .results import Result, sort_key

__all__ = ["REQUIRED_FRACTION", "required_count", "Interval", "ArmSummary", "ClaimVerdict",
           "mean_interval", "aggregate", "aggregate_claim"]

#: Fraction of replicates in which the claim must hold and its control must fail.
REQUIRED_FRACTION = 0.8
#: Confidence level of the intervals of the key statistics.
CONFIDENCE = 0.95


def required_count(n: int) -> int:
    """Replicates out of ``n`` (>= 1) that must agree: ceil(REQUIRED_FRACTION n)."""
    if n < 1:
        raise ValueError(f"the number of replicates must be >= 1, got {n}")
    return math.ceil(REQUIRED_FRACTION * n - 1e-9)


@dataclass(frozen=True)
class Interval:
    """Mean of a statistic over replicates with its 95% interval.

    Attributes
    ----------
    mean, low, high : float
        NaN when no finite value was stored; low = high = NaN for one value.
    n : int
        Finite values used.
    missing : int
        Replicates whose value was NaN or infinite (left out).
    values : tuple of float
        Every replicate's value in replicate order, non-finite ones included.
    """

    mean: float
    low: float
    high: float
    n: int
    missing: int
    values: tuple = ()


def mean_interval(values: Iterable[float]) -> Interval:
    """Mean and two-sided 95% Student-t interval of the finite ``values``.

    Parameters
    ----------
    values : iterable of float, shape (R,)
    """
    from scipy import stats

    all_values = tuple(float(v) for v in values)
    finite = np.array([v for v in all_values if math.isfinite(v)], dtype=np.float64)
    n = int(finite.size)
    missing = len(all_values) - n
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, missing, all_values)
    mean = float(finite.mean())
    if n == 1:
        return Interval(mean, math.nan, math.nan, 1, missing, all_values)
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * finite.std(ddof=1) / math.sqrt(n))
    return Interval(mean, mean - half, mean + half, n, missing, all_values)


@dataclass(frozen=True)
class ArmSummary:
    """The replicates of one arm of one claim.

    Attributes
    ----------
    results : tuple of Result
        In replicate order.
    stats : dict of str to Interval
        The key metrics over replicates.
    """

    results: tuple
    stats: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.results)

    @property
    def passes(self) -> int:
        """Replicates whose rule held."""
        return sum(r.verdict.holds for r in self.results)

    @property
    def fails(self) -> int:
        return self.n - self.passes

    @property
    def replicates(self) -> tuple:
        return tuple(r.replicate for r in self.results)


@dataclass(frozen=True)
class ClaimVerdict:
    """One claim of one kind over its replicates and its control.

    Attributes
    ----------
    experiment : str
    kind : {"toy", "real"}
    status : {"holds", "does not hold", "not discriminating", "no control"}
    claim : ArmSummary
    control : ArmSummary or None
    key_metrics : tuple of str
        The names summarised in ``claim.stats`` and ``control.stats``.
    rule : str
        The aggregation rule with its counts, in words.
    evidence : str
        The counts behind the status.
    """

    experiment: str
    kind: str
    status: str
    claim: ArmSummary
    control: ArmSummary | None
    key_metrics: tuple
    rule: str
    evidence: str

    @property
    def holds(self) -> bool:
        return self.status == "holds"


def _key_metrics(results: Sequence[Result], key_metrics: Sequence[str] | None) -> tuple:
    """The names to summarise: those given, else every metric of the first result."""
    if key_metrics is not None:
        return tuple(key_metrics)
    return tuple(results[0].metrics) if results else ()


def _arm(results: list[Result], names: tuple) -> ArmSummary:
    results = sorted(results, key=sort_key)
    stats = {name: mean_interval(r.metrics.get(name, math.nan) for r in results)
             for name in names}
    return ArmSummary(tuple(results), stats)


def aggregate_claim(results: Sequence[Result], key_metrics: Sequence[str] | None = None
                    ) -> ClaimVerdict:
    """The verdict of one claim of one kind from its stored results (both arms).

    Parameters
    ----------
    results : sequence of Result
        All of one experiment id and one kind, at least one of them of the claim arm.
    key_metrics : sequence of str, optional
        Metrics to summarise (default: every metric of the first claim result).
    """
    if not results:
        raise ValueError("aggregate_claim needs at least one result")
    ids = {(r.experiment, r.kind) for r in results}
    if len(ids) != 1:
        raise ValueError(f"results of one claim and one kind expected, got {sorted(ids)}")
    (experiment, kind), = ids
    claim_results = [r for r in results if r.arm == "claim"]
    control_results = [r for r in results if r.arm == "control"]
    if not claim_results:
        raise ValueError(f"{experiment} ({kind}): no result of the claim arm is stored")
    _check_unique(claim_results + control_results)
    for arm_results in (claim_results, control_results):
        _check_one_config(arm_results)
    names = _key_metrics(claim_results, key_metrics)
    claim = _arm(claim_results, names)
    control = _arm(control_results, names) if control_results else None
    need = required_count(claim.n)
    counts = f"the rule held in {claim.passes} of {claim.n} replicates (needed {need})"
    if control is None:
        status = "no control" if claim.passes >= need else "does not hold"
        evidence = counts + "; no control was run, so the rule was not seen to fail"
    else:
        need_c = required_count(control.n)
        counts += (f"; on the control it failed in {control.fails} of {control.n} "
                   f"(needed {need_c})")
        if claim.passes < need:
            status = "does not hold"
        elif control.fails < need_c:
            status = "not discriminating"
        else:
            status = "holds"
        evidence = counts
    rule = (f"holds when the claim's rule holds in at least ceil({REQUIRED_FRACTION:g} R) of "
            f"R replicates and fails on the negative control in at least ceil("
            f"{REQUIRED_FRACTION:g} R) of its R replicates")
    return ClaimVerdict(experiment, kind, status, claim, control, names, rule,
                        evidence + ".")


def _check_unique(results: Sequence[Result]) -> None:
    seen = {}
    for r in results:
        key = (r.arm, r.seed, r.replicate)
        if key in seen:
            raise ValueError(f"{r.experiment} ({r.kind}): two stored results of arm {r.arm}, "
                             f"seed {r.seed}, replicate {r.replicate}")
        seen[key] = r


def _check_one_config(results: Sequence[Result]) -> None:
    """The replicates of one arm must share one config: an aggregate over different
    configurations would mean nothing."""
    for r in results[1:]:
        if r.config != results[0].config:
            diff = sorted(k for k in set(r.config) | set(results[0].config)
                          if r.config.get(k) != results[0].config.get(k))
            raise ValueError(f"{r.experiment} ({r.kind}, {r.arm}): replicates "
                             f"{results[0].replicate} and {r.replicate} were run with "
                             f"different configs (fields {', '.join(diff)}); store each "
                             "configuration in its own directory")


def aggregate(results: Iterable[Result], key_metrics=None) -> list[ClaimVerdict]:
    """One :class:`ClaimVerdict` per (claim, kind) present among ``results``.

    Parameters
    ----------
    results : iterable of Result
    key_metrics : callable (experiment, kind) -> sequence of str, optional
        The key metrics of a claim (default: every metric).

    Returns
    -------
    list of ClaimVerdict
        Sorted by claim id, then kind. Groups with no claim-arm result are skipped.
    """
    groups: dict[tuple, list[Result]] = {}
    for r in results:
        groups.setdefault((r.experiment, r.kind), []).append(r)
    out = []
    for (experiment, kind), group in sorted(groups.items()):
        if not any(r.arm == "claim" for r in group):
            continue
        names = key_metrics(experiment, kind) if key_metrics is not None else None
        out.append(aggregate_claim(group, names))
    return out
