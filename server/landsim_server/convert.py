"""Conversions between landsim.v1 messages and the library's objects.

Each ``*_from_proto`` validates (through :mod:`landsim_server.arrays` and the library's own
constructors) and raises :class:`~landsim_server.errors.InvalidArgument` naming the
request field, or :class:`~landsim_server.errors.ResourceExhausted` for sizes over a cap.
"""

from __future__ import annotations

import math

import numpy as np
from google.protobuf import json_format

from landsim import geometry
from landsim.descent import DescentConfig
from landsim.spec import LandscapeSpec, WedgeSpec, random_landscape
from landsim.v1 import landscape_pb2 as pb

from .arrays import INT_DTYPES, from_ndarray, to_ndarray
from .errors import InvalidArgument, ResourceExhausted, invalid_argument_from
from .landscape_store import LandscapeRecord

__all__ = [
    "UNION_NAMES", "KIND_NAMES", "OPTIMIZER_NAMES",
    "spec_from_proto", "spec_to_proto", "random_from_proto", "landscape_to_proto",
    "descent_config_from_proto", "random_to_meta", "expected_short_count",
]

UNION_NAMES = {pb.UNION_UNSPECIFIED: "hard", pb.UNION_HARD: "hard", pb.UNION_SOFT: "soft"}
KIND_NAMES = {pb.FRAME_KIND_UNSPECIFIED: "axis", pb.FRAME_KIND_AXIS: "axis",
              pb.FRAME_KIND_ROTATED: "rotated"}
OPTIMIZER_NAMES = {pb.OPTIMIZER_UNSPECIFIED: "gd", pb.OPTIMIZER_GD: "gd",
                   pb.OPTIMIZER_SGD: "sgd", pb.OPTIMIZER_MOMENTUM: "momentum",
                   pb.OPTIMIZER_ADAM: "adam"}
_UNION_ENUM = {"hard": pb.UNION_HARD, "soft": pb.UNION_SOFT}
_KIND_ENUM = {"axis": pb.FRAME_KIND_AXIS, "rotated": pb.FRAME_KIND_ROTATED}


def _enum(field: str, value: int, names: dict) -> str:
    if value not in names:
        raise InvalidArgument(field, f"must be one of {sorted(names)}, got {value}")
    return names[value]


def spec_from_proto(msg: pb.LandscapeSpec, max_bytes: int, field: str = "spec"
                    ) -> LandscapeSpec:
    """A validated LandscapeSpec from its message (arrays capped at ``max_bytes`` each)."""
    dim = msg.dim
    if dim < 1:
        raise InvalidArgument(f"{field}.dim", f"must be >= 1, got {dim}")
    if not msg.wedges:
        raise InvalidArgument(f"{field}.wedges", "a landscape needs at least 1 wedge, got 0")
    wedges = []
    for k, w in enumerate(msg.wedges):
        name = f"{field}.wedges[{k}]"
        anchor = (from_ndarray(w.anchor, f"{name}.anchor", ("float64",), max_bytes, ndim=1,
                               finite=True) if w.HasField("anchor") else None)
        which = w.WhichOneof("short_directions")
        if which is None:
            raise InvalidArgument(name, "give short_axes (axis-aligned) or short_frame "
                                        "(rotated)")
        axes = frame = None
        if which == "short_axes":
            axes = from_ndarray(w.short_axes, f"{name}.short_axes", INT_DTYPES, max_bytes,
                                ndim=1)
        else:
            frame = from_ndarray(w.short_frame, f"{name}.short_frame", ("float64",),
                                 max_bytes, ndim=2, finite=True)
        with invalid_argument_from(name):
            wedges.append(WedgeSpec(dim=dim, eps0=w.eps0, eps1=w.eps1, short_axes=axes,
                                    short_frame=frame, anchor=anchor))
    union = _enum(f"{field}.union", msg.union, UNION_NAMES)
    with invalid_argument_from(field):
        return LandscapeSpec(wedges=tuple(wedges), union=union,
                             tau=msg.tau if msg.HasField("tau") else 1.0)


def spec_to_proto(spec: LandscapeSpec) -> pb.LandscapeSpec:
    """The message of a spec (anchors at the origin are left out)."""
    out = pb.LandscapeSpec(dim=spec.dim, union=_UNION_ENUM[spec.union], tau=spec.tau)
    for w in spec.wedges:
        wm = out.wedges.add(eps0=w.eps0, eps1=w.eps1)
        if w.short_axes is not None:
            wm.short_axes.CopyFrom(to_ndarray(w.short_axes))
        else:
            wm.short_frame.CopyFrom(to_ndarray(w.short_frame))
        if w.anchor is not None:
            wm.anchor.CopyFrom(to_ndarray(w.anchor))
    return out


def _per_wedge(field: str, values, n_wedges: int, default):
    values = list(values)
    if not values:
        if default is None:
            raise InvalidArgument(field, f"give 1 or n_wedges={n_wedges} values, got none")
        return default
    if len(values) == 1:
        return values[0]
    if len(values) != n_wedges:
        raise InvalidArgument(field, f"give 1 or n_wedges={n_wedges} values, got "
                                     f"{len(values)}")
    return values


#: Most wedges one landscape may have: the cost of building and evaluating a landscape
#: grows with its wedge count even where its arrays are small.
MAX_WEDGES = 4096


def random_from_proto(msg: pb.RandomLandscapeParams, max_bytes: int,
                      field: str = "random") -> LandscapeSpec:
    """Draw the spec that ``msg`` describes (its arrays capped at ``max_bytes`` in all)."""
    if msg.dim < 1:
        raise InvalidArgument(f"{field}.dim", f"must be >= 1, got {msg.dim}")
    if msg.n_wedges < 1:
        raise InvalidArgument(f"{field}.n_wedges", f"must be >= 1, got {msg.n_wedges}")
    if msg.n_wedges > MAX_WEDGES:
        raise ResourceExhausted(f"{field}.n_wedges", MAX_WEDGES, msg.n_wedges,
                                "the number of wedges of one landscape")
    n_short = _per_wedge(f"{field}.n_short", msg.n_short, msg.n_wedges, None)
    for i, s in enumerate(n_short if isinstance(n_short, list) else [n_short]):
        if not 1 <= s <= msg.dim:
            where = f"{field}.n_short[{i}]" if isinstance(n_short, list) else f"{field}.n_short"
            raise InvalidArgument(where, f"must be in [1, dim={msg.dim}], got {s}")
    kind = _enum(f"{field}.kind", msg.kind, KIND_NAMES)
    total_short = (int(np.sum(n_short)) if isinstance(n_short, list)
                   else int(n_short) * msg.n_wedges)
    floats = (msg.dim if kind == "rotated" else 1) * total_short
    if msg.anchor_scale > 0:
        floats += msg.dim * msg.n_wedges
    if floats * 8 > max_bytes:
        raise ResourceExhausted(field, max_bytes, floats * 8,
                                "the landscape's arrays would be this many bytes")
    with invalid_argument_from(field):
        return random_landscape(
            int(msg.dim), int(msg.n_wedges), n_short, kind=kind,
            eps0=_per_wedge(f"{field}.eps0", msg.eps0, msg.n_wedges, 0.0),
            eps1=_per_wedge(f"{field}.eps1", msg.eps1, msg.n_wedges, 0.05),
            anchor_scale=msg.anchor_scale, union=_enum(f"{field}.union", msg.union,
                                                       UNION_NAMES),
            tau=msg.tau if msg.HasField("tau") else 1.0, seed=int(msg.seed))


def random_to_meta(msg: pb.RandomLandscapeParams) -> dict:
    """JSON-ready form of the generator parameters (stored with the landscape)."""
    return json_format.MessageToDict(msg)


def landscape_to_proto(record: LandscapeRecord, spec: LandscapeSpec | None = None
                       ) -> pb.Landscape:
    """The Landscape message of a stored record (with the spec when given)."""
    meta = record.meta
    out = pb.Landscape(id=record.id, dim=record.dim, n_wedges=record.n_wedges,
                       kind=_KIND_ENUM[meta["kind"]], union=_UNION_ENUM[meta["union"]],
                       tau=meta["tau"], n_short=meta["n_short"])
    out.created.FromNanoseconds(record.created_ns)
    if "random" in meta:
        json_format.ParseDict(meta["random"], out.random)
    if spec is not None:
        out.spec.CopyFrom(spec_to_proto(spec))
    return out


def descent_config_from_proto(msg: pb.DescentOptions, field: str = "options"
                              ) -> DescentConfig:
    """A validated DescentConfig; absent fields take the library's defaults."""
    defaults = DescentConfig()
    kwargs = {"optimizer": _enum(f"{field}.optimizer", msg.optimizer, OPTIMIZER_NAMES)}
    for name in ("lr", "steps", "noise_std", "momentum", "eps", "l2", "target_loss",
                 "record_every"):
        if msg.HasField(name):
            kwargs[name] = getattr(msg, name)
    if msg.HasField("beta1") or msg.HasField("beta2"):
        kwargs["betas"] = (msg.beta1 if msg.HasField("beta1") else defaults.betas[0],
                           msg.beta2 if msg.HasField("beta2") else defaults.betas[1])
    with invalid_argument_from(field):
        return DescentConfig(**kwargs)


def expected_short_count(spec: LandscapeSpec, wedges: list[int]) -> float:
    """Short count random wedges like those of J would give (IntersectResponse docs)."""
    shorts = [spec.wedges[k].n_short for k in wedges]
    if spec.kind == "axis" and len(set(shorts)) == 1:
        return geometry.expected_short_count(spec.dim, shorts[0], len(shorts))
    if spec.kind == "axis":
        return spec.dim * (1.0 - math.prod(1.0 - s / spec.dim for s in shorts))
    return float(min(spec.dim, sum(shorts)))
