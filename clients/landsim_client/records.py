"""What the client returns: landscapes, evaluations, intersections, descent records,
jobs and job events, as plain Python values and NumPy arrays (no ``landsim`` types).

``Evaluation`` and ``DescentRecord`` stay named tuples (they are unpacked and
``_asdict()``-ed by callers); the other records are frozen dataclasses.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from landsim_wire.v1 import jobs_pb2
from landsim_wire.v1 import landscape_pb2 as pb

from .convert import (
    FRAME_NAMES,
    JOB_ARM_NAMES,
    JOB_KIND_NAMES,
    UNION_NAMES,
    random_params,
    spec_from_proto,
    timestamp,
)
from .spec_record import SpecRecord

__all__ = ["Landscape", "Evaluation", "Intersection", "DescentRecord", "Job", "JobEvent",
           "JOB_STATES", "FINAL_STATES"]

#: Job states, in the order of their enum values.
JOB_STATES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")
#: States after which a job never changes.
FINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})


@dataclass(frozen=True)
class Landscape:
    """A stored landscape (``spec`` only from ``get_landscape(..., include_spec=True)``).

    Attributes
    ----------
    id : str
        Content-derived id (32 hex digits).
    created : datetime
        When it was first stored (UTC).
    dim, n_wedges : int
        D and K.
    kind : {"axis", "rotated"}
    union : {"hard", "soft"}
    tau : float
    n_short : tuple of int
        Short directions of each wedge.
    random : dict or None
        The generator parameters, when it was created from them.
    spec : SpecRecord or None
        The wedges as arrays (``landsim.client_records.spec_from_record`` makes a
        ``landsim.spec.LandscapeSpec`` of it).
    """

    id: str
    created: _dt.datetime | None
    dim: int
    n_wedges: int
    kind: str
    union: str
    tau: float
    n_short: tuple[int, ...]
    random: dict | None = None
    spec: SpecRecord | None = field(default=None, repr=False)

    @classmethod
    def from_proto(cls, msg: pb.Landscape) -> Landscape:
        return cls(id=msg.id, created=timestamp(msg.created), dim=int(msg.dim),
                   n_wedges=int(msg.n_wedges), kind=FRAME_NAMES.get(msg.kind, str(msg.kind)),
                   union=UNION_NAMES.get(msg.union, str(msg.union)), tau=msg.tau,
                   n_short=tuple(int(s) for s in msg.n_short),
                   random=random_params(msg.random) if msg.HasField("random") else None,
                   spec=spec_from_proto(msg.spec) if msg.HasField("spec") else None)


class Evaluation(NamedTuple):
    """Results of ``Client.evaluate``, named as ``landsim.geometry.Evaluation``.

    ``wedge_losses`` and ``grad`` are None unless asked for.
    """

    loss: np.ndarray  #: (B,) float64 landscape loss
    argmin: np.ndarray  #: (B,) int64 arg-min wedge, lowest index on ties
    wedge_losses: np.ndarray | None  #: (B, K) float64 per-wedge losses
    grad: np.ndarray | None  #: (B, D) gradient in the points' dtype


@dataclass(frozen=True)
class Intersection:
    """The intersection of a set of wedges (``Client.intersect``)."""

    short_count: int  #: dimension of the span of all short directions
    long_dim: int  #: D - short_count
    expected_short_count: float  #: what random wedges like these would give
    point: np.ndarray | None = field(repr=False)  #: (D,) a point of it, None if long_dim = 0
    short_axes: np.ndarray | None = field(repr=False)  #: union of short axes (axis wedges)


class DescentRecord(NamedTuple):
    """One trajectory record of all B runs."""

    step: int  #: global step index
    loss: np.ndarray  #: (B,) landscape loss without the L2 term
    radius: np.ndarray  #: (B,) |x|
    distance: np.ndarray  #: (B,) |x - x_start|
    argmin: np.ndarray  #: (B,) int64 arg-min wedge


@dataclass(frozen=True)
class Job:
    """One job as the server stores it.

    Attributes
    ----------
    id, request_id, experiment : str
    kind : {"toy", "real"}
    config : dict
        The config of the claim arm (complete for toy jobs; the overrides for real ones).
    quick : bool
    seed : int
        Root seed.
    replicate : int
        Replicate index: the run draws from ``SeedSequence(seed, spawn_key=(replicate,))``.
    arm : {"claim", "control"}
        The claim's config itself, or its negative control.
    state : {"QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"}
    progress : float
        Fraction done, in [0, 1].
    message, error : str
    attempts, max_attempts : int
    cancel_requested : bool
    created, started, finished, lease_expires : datetime or None (UTC)
    sweep : dict or None
        A sweep job's grid: ``{"axes": {field: [value text, ...]}, "seeds": n,
        "controls": bool}``; None for a one-unit job.
    """

    id: str
    request_id: str
    experiment: str
    kind: str
    config: dict = field(repr=False)
    quick: bool
    seed: int
    replicate: int
    arm: str
    state: str
    progress: float
    message: str
    attempts: int
    max_attempts: int
    error: str = field(repr=False)
    cancel_requested: bool
    created: _dt.datetime | None = field(repr=False)
    started: _dt.datetime | None = field(repr=False)
    finished: _dt.datetime | None = field(repr=False)
    lease_expires: _dt.datetime | None = field(repr=False)
    sweep: dict | None = field(default=None, repr=False)

    @property
    def final(self) -> bool:
        """Whether the job reached SUCCEEDED, FAILED or CANCELLED."""
        return self.state in FINAL_STATES

    @classmethod
    def from_proto(cls, msg: jobs_pb2.Job) -> Job:
        name = jobs_pb2.JobState.Name(msg.state) if msg.state in jobs_pb2.JobState.values() \
            else str(msg.state)
        try:
            config = json.loads(msg.config_json) if msg.config_json else {}
        except ValueError:
            config = {"_unparsed": msg.config_json}
        return cls(id=msg.id, request_id=msg.request_id, experiment=msg.experiment_id,
                   kind=JOB_KIND_NAMES.get(msg.kind, str(msg.kind)), config=config,
                   quick=msg.quick, seed=int(msg.seed), replicate=int(msg.replicate),
                   arm=JOB_ARM_NAMES.get(msg.arm, str(msg.arm)),
                   state=name.removeprefix("JOB_STATE_"), progress=msg.progress,
                   message=msg.message, attempts=int(msg.attempts),
                   max_attempts=int(msg.max_attempts), error=msg.error,
                   cancel_requested=msg.cancel_requested, created=timestamp(msg.create_time),
                   started=timestamp(msg.start_time), finished=timestamp(msg.finish_time),
                   lease_expires=timestamp(msg.lease_expire_time),
                   sweep=({"axes": {a.field: list(a.values) for a in msg.sweep.axes},
                           "seeds": int(msg.sweep.seeds), "controls": msg.sweep.controls}
                          if msg.sweep.seeds else None))


@dataclass(frozen=True)
class JobEvent:
    """One update of ``Client.watch``: the job as of the change (or a heartbeat)."""

    job: Job
    heartbeat: bool = False

    @property
    def state(self) -> str:
        return self.job.state

    @property
    def progress(self) -> float:
        return self.job.progress

    @property
    def message(self) -> str:
        return self.job.message
