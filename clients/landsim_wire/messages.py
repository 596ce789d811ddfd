"""landsim.v1 messages <-> plain values (dicts, lists, NumPy arrays), for both sides.

Only the wire's own rules are checked here: enum values, which oneof member is set,
repeated per-wedge fields (one value or one per wedge) and the arrays (dtype allow-list,
dimensions, finiteness, an optional byte cap). The values themselves (ranges, seeds,
eps ...) are the library's business: the server hands these plain values to ``landsim``
and the client to the user. Errors are :class:`~landsim_wire.errors.WireError` naming the
field (``spec.wedges[2].anchor.dtype``).

- landscape specs: :func:`spec_to_proto` (any spec-shaped object) and :func:`spec_values`;
- random-landscape parameters: :func:`random_values`, :func:`per_wedge`;
- descent options: :func:`descent_values`;
- job results: :func:`result_parts` (summary + chunks) and :func:`result_values`;
- timestamps: :func:`set_timestamp`, :func:`timestamp_seconds`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from .arrays import INT_DTYPES, ChunkAssembler, from_ndarray, iter_chunks, to_ndarray
from .dtypes import DEFAULT_CHUNK_BYTES
from .enums import (
    FRAME_NAMES,
    JOB_ARM_NAMES,
    JOB_ARMS,
    JOB_KIND_NAMES,
    JOB_KINDS,
    OPTIMIZER_NAMES,
    UNION_NAMES,
    UNIONS,
    enum_name,
)
from .errors import WireError
from .v1 import jobs_pb2
from .v1 import landscape_pb2 as pb

__all__ = ["spec_to_proto", "spec_values", "per_wedge", "random_values", "descent_values",
           "DESCENT_FIELDS", "result_parts", "result_values", "set_timestamp",
           "timestamp_seconds"]

#: The optional scalar fields of ``DescentOptions`` (besides optimizer, beta1, beta2).
DESCENT_FIELDS = ("lr", "steps", "noise_std", "momentum", "eps", "l2", "target_loss",
                  "record_every")


# -- landscape specs -----------------------------------------------------------------------

def spec_to_proto(spec: Any) -> pb.LandscapeSpec:
    """The message of a spec-shaped object.

    Parameters
    ----------
    spec : object
        With ``wedges``, ``union`` ("hard" or "soft") and ``tau``; each wedge with ``dim``,
        ``eps0``, ``eps1``, ``short_axes`` (s,) or ``short_frame`` (D, s), and ``anchor``
        (D,) or None (left out). A ``landsim.spec.LandscapeSpec`` is one.

    Returns
    -------
    landsim.v1.LandscapeSpec
    """
    if spec.union not in UNIONS:
        raise ValueError(f"union must be one of {sorted(UNIONS)}, got {spec.union!r}")
    dim = getattr(spec, "dim", None)
    if dim is None:
        dim = spec.wedges[0].dim if spec.wedges else 0
    out = pb.LandscapeSpec(dim=int(dim), union=UNIONS[spec.union], tau=float(spec.tau))
    for w in spec.wedges:
        wm = out.wedges.add(eps0=float(w.eps0), eps1=float(w.eps1))
        if w.short_axes is not None:
            wm.short_axes.CopyFrom(to_ndarray(np.asarray(w.short_axes, np.int64)))
        else:
            wm.short_frame.CopyFrom(to_ndarray(np.asarray(w.short_frame, np.float64)))
        if w.anchor is not None:
            wm.anchor.CopyFrom(to_ndarray(np.asarray(w.anchor, np.float64)))
    return out


def spec_values(msg: pb.LandscapeSpec, field: str = "spec", max_bytes: int | None = None,
                *, copy: bool = True) -> dict:
    """A LandscapeSpec message as plain values, its arrays checked.

    Parameters
    ----------
    msg : landsim.v1.LandscapeSpec
    field : str
        Where the message is in the request, for errors.
    max_bytes : int, optional
        Cap on each array's bytes (WireLimitError above it).
    copy : bool
        Writable copies of the arrays (default) or read-only views of the message.

    Returns
    -------
    dict
        ``dim`` (int), ``union`` ("hard"/"soft"), ``tau`` (float, 1.0 when unset) and
        ``wedges``: a list of dicts with ``dim``, ``eps0``, ``eps1``, ``short_axes``
        (int (s,) or None), ``short_frame`` (float64 (D, s) or None) and ``anchor``
        (float64 (D,) or None).
    """
    wedges = []
    for k, w in enumerate(msg.wedges):
        name = f"{field}.wedges[{k}]"
        which = w.WhichOneof("short_directions")
        if which is None:
            raise WireError("give short_axes (axis-aligned) or short_frame (rotated)", name)
        anchor = (from_ndarray(w.anchor, f"{name}.anchor", ("float64",), max_bytes, ndim=1,
                               finite=True, copy=copy) if w.HasField("anchor") else None)
        axes = frame = None
        if which == "short_axes":
            axes = from_ndarray(w.short_axes, f"{name}.short_axes", INT_DTYPES, max_bytes,
                                ndim=1, copy=copy)
        else:
            frame = from_ndarray(w.short_frame, f"{name}.short_frame", ("float64",),
                                 max_bytes, ndim=2, finite=True, copy=copy)
        wedges.append({"dim": int(msg.dim), "eps0": w.eps0, "eps1": w.eps1,
                       "short_axes": axes, "short_frame": frame, "anchor": anchor})
    return {"dim": int(msg.dim), "union": enum_name(f"{field}.union", msg.union, UNION_NAMES),
            "tau": msg.tau if msg.HasField("tau") else 1.0, "wedges": wedges}


# -- random landscapes, descent ------------------------------------------------------------

def per_wedge(field: str, values: Iterable, n_wedges: int, default: Any = None) -> Any:
    """A repeated per-wedge field: ``default`` when empty (WireError if None), the value
    when there is one, the list when there are ``n_wedges``; WireError otherwise."""
    values = list(values)
    if not values:
        if default is None:
            raise WireError(f"give 1 or n_wedges={n_wedges} values, got none", field)
        return default
    if len(values) == 1:
        return values[0]
    if len(values) != n_wedges:
        raise WireError(f"give 1 or n_wedges={n_wedges} values, got {len(values)}", field)
    return values


def random_values(msg: pb.RandomLandscapeParams, field: str = "random", *,
                  eps0: float = 0.0, eps1: float = 0.05) -> dict:
    """RandomLandscapeParams as the keyword arguments of ``landsim.random_landscape``.

    Returns
    -------
    dict
        ``dim``, ``n_wedges`` (int), ``n_short`` (int or list of n_wedges ints), ``kind``,
        ``eps0``, ``eps1`` (float or list; ``eps0`` / ``eps1`` when unset), ``anchor_scale``,
        ``union``, ``tau`` (1.0 when unset) and ``seed``.
    """
    n = int(msg.n_wedges)
    return {"dim": int(msg.dim), "n_wedges": n,
            "n_short": per_wedge(f"{field}.n_short", [int(s) for s in msg.n_short], n),
            "kind": enum_name(f"{field}.kind", msg.kind, FRAME_NAMES),
            "eps0": per_wedge(f"{field}.eps0", msg.eps0, n, eps0),
            "eps1": per_wedge(f"{field}.eps1", msg.eps1, n, eps1),
            "anchor_scale": msg.anchor_scale,
            "union": enum_name(f"{field}.union", msg.union, UNION_NAMES),
            "tau": msg.tau if msg.HasField("tau") else 1.0, "seed": int(msg.seed)}


def descent_values(msg: pb.DescentOptions, field: str = "options") -> dict:
    """The fields set in a DescentOptions message: always ``optimizer`` (a name), then
    those of :data:`DESCENT_FIELDS`, ``beta1`` and ``beta2`` that are present."""
    out = {"optimizer": enum_name(f"{field}.optimizer", msg.optimizer, OPTIMIZER_NAMES)}
    for name in (*DESCENT_FIELDS, "beta1", "beta2"):
        if msg.HasField(name):
            out[name] = getattr(msg, name)
    return out


# -- job results ---------------------------------------------------------------------------

class _Verdict(NamedTuple):
    holds: bool
    rule: str
    evidence: str


def result_parts(values: Mapping[str, Any], series: Mapping[str, np.ndarray],
                 chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Iterator[jobs_pb2.JobResultPart]:
    """A result as GetJobResult messages: the summary, then each series as chunks.

    Parameters
    ----------
    values : mapping
        ``experiment``, ``kind`` ("toy"/"real"), ``config`` (JSON values), ``seed``,
        ``version``, ``machine``, ``timings`` and ``metrics`` (str -> float),
        ``verdict`` (attributes or keys ``holds``, ``rule``, ``evidence``), ``replicate``
        and ``arm`` ("claim"/"control").
    series : mapping of str to ndarray
        The named arrays, any shape, wire dtypes.
    chunk_bytes : int
    """
    arrays = {name: to_ndarray(np.zeros(0, np.asarray(a).dtype)).dtype
              for name, a in series.items()}  # the wire dtype each series is sent as
    v = values["verdict"]
    if isinstance(v, Mapping):
        v = _Verdict(v["holds"], v["rule"], v["evidence"])
    summary = jobs_pb2.JobResultSummary(
        experiment_id=values["experiment"], kind=JOB_KINDS[values["kind"]],
        config_json=json.dumps(values["config"], sort_keys=True), seed=values["seed"],
        version=values["version"], machine=values["machine"], timings=values["timings"],
        metrics=values["metrics"],
        verdict=jobs_pb2.Verdict(holds=v.holds, rule=v.rule, evidence=v.evidence),
        arrays=[jobs_pb2.ArrayInfo(name=name, dtype=arrays[name],
                                   shape=np.shape(series[name])) for name in series],
        replicate=values["replicate"], arm=JOB_ARMS[values["arm"]])
    yield jobs_pb2.JobResultPart(summary=summary)
    for name, array in series.items():
        for chunk in iter_chunks(name, array, chunk_bytes):
            yield jobs_pb2.JobResultPart(chunk=chunk)


def result_values(parts: Iterable[jobs_pb2.JobResultPart]) -> tuple[dict, dict]:
    """Read a GetJobResult stream back (checked: one summary first, every listed array
    complete and as the summary says).

    Returns
    -------
    values : dict
        As for :func:`result_parts`, ``verdict`` a dict and ``config`` parsed.
    series : dict of str to ndarray
        Writable arrays, in the summary's order.
    """
    summary = None
    arrays: dict[str, ChunkAssembler] = {}
    for part in parts:
        if part.WhichOneof("part") == "summary":
            if summary is not None:
                raise WireError("a second result summary")
            summary = part.summary
            arrays = {info.name: ChunkAssembler(info.name) for info in summary.arrays}
            continue
        if summary is None:
            raise WireError("an array chunk before the result summary")
        if part.chunk.name not in arrays:
            raise WireError(f"chunk of an unlisted array {part.chunk.name!r}")
        arrays[part.chunk.name].add(part.chunk)
    if summary is None:
        raise WireError("the result stream ended before its summary")
    series = {}
    for info in summary.arrays:
        a = arrays[info.name].array()
        if a.dtype.name != info.dtype or list(a.shape) != list(info.shape):
            raise WireError(f"array {info.name!r} is {a.dtype} {list(a.shape)}, the summary "
                            f"says {info.dtype} {list(info.shape)}")
        series[info.name] = a
    v = summary.verdict
    values = {"experiment": summary.experiment_id,
              "kind": JOB_KIND_NAMES.get(summary.kind, "toy"),
              "config": json.loads(summary.config_json or "{}"), "seed": int(summary.seed),
              "version": summary.version, "machine": summary.machine,
              "timings": dict(summary.timings), "metrics": dict(summary.metrics),
              "verdict": {"holds": v.holds, "rule": v.rule, "evidence": v.evidence},
              "replicate": int(summary.replicate),
              "arm": enum_name("arm", summary.arm, JOB_ARM_NAMES)}
    return values, series


# -- timestamps ----------------------------------------------------------------------------

def set_timestamp(field, seconds: float | None) -> None:
    """Set a Timestamp field to ``seconds`` since the epoch (left unset for None)."""
    if seconds is not None:
        field.FromNanoseconds(int(round(seconds * 1e9)))


def timestamp_seconds(ts) -> float | None:
    """Seconds since the epoch of a Timestamp; None when unset (zero)."""
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    return ts.seconds + ts.nanos * 1e-9
