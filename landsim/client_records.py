"""landsim objects from the light client's records (and back, for specs).

The client (``landsim_client``) never imports ``landsim``: it returns plain records of
NumPy arrays. Where landsim is installed, these functions make the library's objects of
them:

- :func:`result_from_record`: a ``landsim_client.JobResult`` (``Client.result``) as a
  :class:`landsim.results.Result`;
- :func:`spec_from_record`: a ``landsim_client.SpecRecord`` (``Landscape.spec``) as a
  :class:`landsim.spec.LandscapeSpec`, validated;
- :func:`record_from_spec`: the reverse (the client also takes a LandscapeSpec as it is).

Only attributes are read, so this module does not import the client either.
"""

from __future__ import annotations

from typing import Any

from .results import Result, Verdict
from .spec import LandscapeSpec, WedgeSpec

__all__ = ["result_from_record", "spec_from_record", "record_from_spec"]


def result_from_record(record: Any) -> Result:
    """A :class:`~landsim.results.Result` of a ``landsim_client.JobResult``.

    Parameters
    ----------
    record : landsim_client.JobResult
        Or anything with its attributes: ``experiment``, ``kind``, ``config``, ``seed``,
        ``version``, ``timings``, ``metrics``, ``series`` (name -> ndarray, any shape),
        ``verdict`` (``holds``, ``rule``, ``evidence``), ``machine``, ``arm`` and
        ``replicate``.

    Returns
    -------
    Result
        Validated like any Result; its series are the record's arrays (not copied).
    """
    v = record.verdict
    return Result(experiment=record.experiment, kind=record.kind, config=dict(record.config),
                  seed=record.seed, version=record.version, timings=dict(record.timings),
                  metrics=dict(record.metrics), series=dict(record.series),
                  verdict=Verdict(v.holds, v.rule, v.evidence), machine=record.machine,
                  arm=record.arm, replicate=record.replicate)


def spec_from_record(record: Any) -> LandscapeSpec:
    """A validated :class:`~landsim.spec.LandscapeSpec` of a ``landsim_client.SpecRecord``.

    Parameters
    ----------
    record : landsim_client.SpecRecord
        Or anything with ``wedges``, ``union`` and ``tau``; each wedge with ``dim``,
        ``eps0``, ``eps1``, ``short_axes`` (s,) or ``short_frame`` (D, s), and ``anchor``
        (D,) or None.
    """
    wedges = tuple(WedgeSpec(dim=w.dim, eps0=w.eps0, eps1=w.eps1, short_axes=w.short_axes,
                             short_frame=w.short_frame, anchor=w.anchor)
                   for w in record.wedges)
    return LandscapeSpec(wedges=wedges, union=record.union, tau=record.tau)


def record_from_spec(spec: LandscapeSpec):
    """A ``landsim_client.SpecRecord`` of a LandscapeSpec (needs the client installed)."""
    from landsim_client import SpecRecord

    return SpecRecord.from_spec(spec)
