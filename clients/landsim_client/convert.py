"""Conversions between landsim.v1 messages and plain Python / NumPy values.

Enum names both ways (re-exported from :mod:`landsim_wire.enums`), timestamps, and
landscape specs: a ``LandscapeSpec`` message <->
:class:`~landsim_client.spec_record.SpecRecord`, and any spec-shaped object (a
``landsim.spec.LandscapeSpec``, a record, their ``to_dict()`` form) -> message, by duck
typing, so that ``landsim`` is never imported.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from landsim_wire import messages
from landsim_wire.enums import (
    FRAME_NAMES,
    FRAMES,
    JOB_ARM_NAMES,
    JOB_ARMS,
    JOB_KIND_NAMES,
    JOB_KINDS,
    OPTIMIZERS,
    UNION_NAMES,
    UNIONS,
)
from landsim_wire.v1 import landscape_pb2 as pb

from .spec_record import SpecRecord, WedgeRecord

__all__ = ["UNIONS", "UNION_NAMES", "FRAMES", "FRAME_NAMES", "OPTIMIZERS", "JOB_KINDS",
           "JOB_KIND_NAMES", "JOB_ARMS", "JOB_ARM_NAMES", "timestamp", "spec_from_proto",
           "spec_to_proto", "random_params"]

_SPEC_NAME = pb.LandscapeSpec.DESCRIPTOR.full_name


def timestamp(ts) -> _dt.datetime | None:
    """A protobuf Timestamp as an aware UTC datetime (None when unset)."""
    seconds = messages.timestamp_seconds(ts)
    return None if seconds is None else _dt.datetime.fromtimestamp(seconds, tz=_dt.UTC)


def spec_from_proto(msg: pb.LandscapeSpec) -> SpecRecord:
    """A ``LandscapeSpec`` message as a :class:`SpecRecord` (arrays checked by
    ``landsim_wire.messages.spec_values``)."""
    values = messages.spec_values(msg)
    return SpecRecord(wedges=tuple(WedgeRecord(**w) for w in values["wedges"]),
                      union=values["union"], tau=values["tau"])


def spec_to_proto(spec: Any) -> pb.LandscapeSpec:
    """A spec as a message.

    Parameters
    ----------
    spec : SpecRecord, spec-shaped object, dict or LandscapeSpec message
        A :class:`SpecRecord`; anything with the attributes of
        ``landsim.spec.LandscapeSpec`` (``wedges``, ``union``, ``tau``; each wedge with
        ``dim``, ``eps0``, ``eps1``, ``short_axes`` (s,) or ``short_frame`` (D, s) and
        ``anchor`` (D,) or None); the ``to_dict()`` form of either; or the message.
    """
    if isinstance(spec, pb.LandscapeSpec):
        return spec
    descriptor = getattr(spec, "DESCRIPTOR", None)
    if getattr(descriptor, "full_name", None) == _SPEC_NAME:  # another copy of the module
        return pb.LandscapeSpec.FromString(spec.SerializeToString())
    if isinstance(spec, dict):
        spec = SpecRecord.from_dict(spec)
    if not hasattr(spec, "wedges") or not hasattr(spec, "union"):
        raise TypeError(f"spec must be a landscape spec (landsim.spec.LandscapeSpec or "
                        f"landsim_client.SpecRecord), its to_dict() form or a "
                        f"landsim.v1.LandscapeSpec message, got {type(spec).__name__}")
    return messages.spec_to_proto(SpecRecord.from_spec(spec))


def random_params(msg: pb.RandomLandscapeParams) -> dict:
    """Generator parameters as the keyword arguments of ``Client.create_landscape``."""
    return {"dim": int(msg.dim), "n_wedges": int(msg.n_wedges),
            "n_short": [int(s) for s in msg.n_short],
            "kind": FRAME_NAMES.get(msg.kind, str(msg.kind)), "eps0": list(msg.eps0),
            "eps1": list(msg.eps1), "anchor_scale": msg.anchor_scale,
            "union": UNION_NAMES.get(msg.union, str(msg.union)),
            "tau": msg.tau if msg.HasField("tau") else None, "seed": int(msg.seed)}
