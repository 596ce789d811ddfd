"""The enums of the landsim.v1 API as names, both ways.

Each ``*_NAMES`` dict maps an enum value to the name the library and the client use
(``UNSPECIFIED`` reads as the default), each plural dict maps a name to its value.
:func:`enum_name` reads a received value, naming the field when it is unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .errors import WireError
from .v1 import jobs_pb2
from .v1 import landscape_pb2 as pb

__all__ = ["UNIONS", "UNION_NAMES", "FRAMES", "FRAME_NAMES", "OPTIMIZERS", "OPTIMIZER_NAMES",
           "JOB_KINDS", "JOB_KIND_NAMES", "JOB_ARMS", "JOB_ARM_NAMES", "JOB_STATES",
           "JOB_STATE_NAMES", "enum_name", "job_state_names"]

UNIONS = {"hard": pb.UNION_HARD, "soft": pb.UNION_SOFT}
UNION_NAMES = {pb.UNION_UNSPECIFIED: "hard", pb.UNION_HARD: "hard", pb.UNION_SOFT: "soft"}
FRAMES = {"axis": pb.FRAME_KIND_AXIS, "rotated": pb.FRAME_KIND_ROTATED}
FRAME_NAMES = {pb.FRAME_KIND_UNSPECIFIED: "axis", pb.FRAME_KIND_AXIS: "axis",
               pb.FRAME_KIND_ROTATED: "rotated"}
OPTIMIZERS = {"gd": pb.OPTIMIZER_GD, "sgd": pb.OPTIMIZER_SGD,
              "momentum": pb.OPTIMIZER_MOMENTUM, "adam": pb.OPTIMIZER_ADAM}
OPTIMIZER_NAMES = {pb.OPTIMIZER_UNSPECIFIED: "gd", **{v: k for k, v in OPTIMIZERS.items()}}
JOB_KINDS = {"toy": jobs_pb2.JOB_KIND_TOY, "real": jobs_pb2.JOB_KIND_REAL}
JOB_KIND_NAMES = {jobs_pb2.JOB_KIND_UNSPECIFIED: "toy", jobs_pb2.JOB_KIND_TOY: "toy",
                  jobs_pb2.JOB_KIND_REAL: "real"}
JOB_ARMS = {"claim": jobs_pb2.JOB_ARM_CLAIM, "control": jobs_pb2.JOB_ARM_CONTROL}
JOB_ARM_NAMES = {jobs_pb2.JOB_ARM_UNSPECIFIED: "claim", jobs_pb2.JOB_ARM_CLAIM: "claim",
                 jobs_pb2.JOB_ARM_CONTROL: "control"}
#: Job state names ("QUEUED", ...) -> ``JobState`` values (UNSPECIFIED is no state).
JOB_STATES = {name.removeprefix("JOB_STATE_"): value
              for name, value in jobs_pb2.JobState.items() if value != 0}
JOB_STATE_NAMES = {value: name for name, value in JOB_STATES.items()}


def enum_name(field: str, value: int, names: Mapping[int, str]) -> str:
    """The name of a received enum value; WireError naming ``field`` if it is unknown."""
    if value not in names:
        raise WireError(f"must be one of {sorted(names)}, got {value}", field)
    return names[value]


def job_state_names(values: Iterable[int], field: str = "states") -> list[str]:
    """Sorted distinct state names of ``JobState`` values; WireError for UNSPECIFIED or an
    unknown value."""
    out = set()
    for value in values:
        if value not in JOB_STATE_NAMES:
            raise WireError(f"states must hold JOB_STATE_QUEUED .. JOB_STATE_CANCELLED, got "
                            f"{value}", field)
        out.add(JOB_STATE_NAMES[value])
    return sorted(out)
