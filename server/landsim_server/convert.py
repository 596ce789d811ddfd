"""landsim.v1 messages -> the library's objects, and back.

The wire rules (enums, oneofs, per-wedge fields, arrays) are :mod:`landsim_wire.messages`;
the value rules (dims, n_short, eps, seeds ...) are the library's own checks. Here the
plain values become library objects (``LandscapeSpec``, ``DescentConfig``), under the
server's size caps. Errors are :class:`~landsim_server.errors.InvalidArgument` naming the
request field (a library ``ValueError`` is named after the argument its message starts
with), or :class:`~landsim_server.errors.ResourceExhausted` for sizes over a cap.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence

from google.protobuf import json_format
from landsim_wire import messages
from landsim_wire.enums import FRAME_NAMES, FRAMES, OPTIMIZER_NAMES, UNION_NAMES, UNIONS
from landsim_wire.v1 import landscape_pb2 as pb

from landsim import geometry
from landsim._checks import int_at_least
from landsim.descent import DescentConfig
from landsim.spec import LandscapeSpec, WedgeSpec, check_n_short, random_landscape

from .errors import InvalidArgument, ResourceExhausted, wire_errors
from .landscape_store import LandscapeRecord

__all__ = [
    "UNION_NAMES", "KIND_NAMES", "OPTIMIZER_NAMES", "MAX_WEDGES",
    "spec_from_proto", "spec_to_proto", "random_from_proto", "landscape_to_proto",
    "descent_config_from_proto", "random_to_meta", "expected_short_count", "library_errors",
]

#: Frame kind values -> names (:data:`landsim_wire.enums.FRAME_NAMES`).
KIND_NAMES = FRAME_NAMES
#: Most wedges one landscape may have: the cost of building and evaluating a landscape
#: grows with its wedge count even where its arrays are small.
MAX_WEDGES = 4096


@contextlib.contextmanager
def library_errors(field: str, names: Sequence[str] = (), fallback: str | None = None
                   ) -> Iterator[None]:
    """Turn a library ``ValueError`` raised in the block into :class:`InvalidArgument`.

    The library's messages open with the argument's name ("tau must be in ..."); when
    that name is one of ``names`` the error names ``<field>.<name>``, else ``fallback``
    (default ``field``).
    """
    try:
        yield
    except ValueError as exc:
        first = str(exc).split(" ", 1)[0]
        where = f"{field}.{first}" if first in names else (fallback or field)
        raise InvalidArgument(where, str(exc)) from exc


def spec_from_proto(msg: pb.LandscapeSpec, max_bytes: int, field: str = "spec"
                    ) -> LandscapeSpec:
    """A validated LandscapeSpec from its message (arrays capped at ``max_bytes`` each)."""
    with wire_errors():
        values = messages.spec_values(msg, field, max_bytes, copy=False)
    with library_errors(field, ("dim",)):  # the library's rule, named after the spec's field
        int_at_least("dim", values["dim"], 1)
    wedges = []
    for k, w in enumerate(values["wedges"]):
        with library_errors(f"{field}.wedges[{k}]"):
            wedges.append(WedgeSpec(**w))
    with library_errors(field, fallback=None if wedges else f"{field}.wedges"):
        return LandscapeSpec(wedges=tuple(wedges), union=values["union"], tau=values["tau"])


def spec_to_proto(spec: LandscapeSpec) -> pb.LandscapeSpec:
    """The message of a spec (anchors at the origin are left out)."""
    return messages.spec_to_proto(spec)


def random_from_proto(msg: pb.RandomLandscapeParams, max_bytes: int,
                      field: str = "random") -> LandscapeSpec:
    """Draw the spec that ``msg`` describes (its arrays capped at ``max_bytes`` in all)."""
    if msg.n_wedges > MAX_WEDGES:
        raise ResourceExhausted(f"{field}.n_wedges", MAX_WEDGES, msg.n_wedges,
                                "the number of wedges of one landscape")
    with library_errors(field, ("dim", "n_wedges")):
        dim = int_at_least("dim", int(msg.dim), 1)
        int_at_least("n_wedges", int(msg.n_wedges), 1)
    with wire_errors():
        kwargs = messages.random_values(msg, field)
    n_short = kwargs["n_short"]
    shorts = n_short if isinstance(n_short, list) else [n_short]
    for i, s in enumerate(shorts):
        where = f"{field}.n_short[{i}]" if isinstance(n_short, list) else f"{field}.n_short"
        with library_errors(where):
            check_n_short(s, dim)
    total_short = sum(shorts) if isinstance(n_short, list) else n_short * msg.n_wedges
    floats = (dim if kwargs["kind"] == "rotated" else 1) * total_short
    if msg.anchor_scale > 0:
        floats += dim * msg.n_wedges
    if floats * 8 > max_bytes:
        raise ResourceExhausted(field, max_bytes, floats * 8,
                                "the landscape's arrays would be this many bytes")
    with library_errors(field):
        return random_landscape(**kwargs)


def random_to_meta(msg: pb.RandomLandscapeParams) -> dict:
    """JSON-ready form of the generator parameters (stored with the landscape)."""
    return json_format.MessageToDict(msg)


def landscape_to_proto(record: LandscapeRecord, spec: LandscapeSpec | None = None
                       ) -> pb.Landscape:
    """The Landscape message of a stored record (with the spec when given)."""
    meta = record.meta
    out = pb.Landscape(id=record.id, dim=record.dim, n_wedges=record.n_wedges,
                       kind=FRAMES[meta["kind"]], union=UNIONS[meta["union"]],
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
    with wire_errors():
        kwargs = messages.descent_values(msg, field)
    beta1, beta2 = kwargs.pop("beta1", None), kwargs.pop("beta2", None)
    if beta1 is not None or beta2 is not None:
        defaults = DescentConfig().betas
        kwargs["betas"] = (defaults[0] if beta1 is None else beta1,
                           defaults[1] if beta2 is None else beta2)
    with library_errors(field):
        return DescentConfig(**kwargs)


def expected_short_count(spec: LandscapeSpec, wedges: list[int]) -> float:
    """Short count random wedges like those of J would give (IntersectResponse docs)."""
    shorts = [spec.wedges[k].n_short for k in wedges]
    if spec.kind == "axis" and len(set(shorts)) == 1:
        return geometry.expected_short_count(spec.dim, shorts[0], len(shorts))
    if spec.kind == "axis":
        return spec.dim * (1.0 - math.prod(1.0 - s / spec.dim for s in shorts))
    return float(min(spec.dim, sum(shorts)))

