"""Request messages built from the client's arguments, with the arguments checked locally
(ValueError / TypeError naming the argument) before anything is sent."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

import numpy as np
from landsim_wire.arrays import to_ndarray
from landsim_wire.v1 import jobs_pb2
from landsim_wire.v1 import landscape_pb2 as pb

from .convert import FRAMES, JOB_ARMS, JOB_KINDS, OPTIMIZERS, UNIONS, spec_to_proto
from .records import JOB_STATES

__all__ = ["SECTION_KINDS", "MARGIN", "points", "float_array", "channel_options",
           "create_landscape_request", "section_request", "descend_request",
           "create_job_request", "job_state_values"]

#: Section kinds and their parameters (required, optional).
SECTION_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "line": (("a", "b"), ("t", "num_t")),
    "chain": (("points",), ("t", "num_t")),
    "bezier": (("a", "control", "b"), ("t", "num_t")),
    "simplex": (("vertices", "resolution"), ()),
    "plane": (("origin", "d1", "d2"),
              ("extent", "resolution", "alpha", "beta", "raw_directions")),
    "radial": (("origin", "d1", "d2", "radii", "angles"), ()),
}
#: Room for the message frame and the other fields, in bytes.
MARGIN = 64 << 10
_FLOATS = ("float64", "float32")


def float_array(value, name: str):
    """A float64 NdArray of ``value`` (ValueError naming ``name`` if it is not numeric)."""
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of numbers: {exc}") from None
    return to_ndarray(a)


def points(X, name: str = "points") -> tuple[np.ndarray, bool]:
    """(B, D) float32/float64 C-contiguous points and whether X was a single (D,) point."""
    a = np.asarray(X)
    if a.dtype.kind in "iub":
        a = a.astype(np.float64)
    if a.dtype.name not in _FLOATS:
        raise ValueError(f"{name} must be float32 or float64, got dtype {a.dtype}")
    single = a.ndim == 1
    if single:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"{name} must have shape (B, D) or (D,), got {np.shape(X)}")
    return np.ascontiguousarray(a), single


def channel_options(max_message_bytes: int, options: Sequence) -> list:
    """gRPC channel options of a client."""
    # receive at least what a default server may send (64 MiB messages, 1 MiB chunks)
    receive = max(max_message_bytes, (64 << 20) + MARGIN)
    # reconnect quickly after a server restart (gRPC's default backoff grows to 120 s,
    # during which every call fails at once with UNAVAILABLE)
    return [("grpc.max_receive_message_length", receive),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 2000), *options]


def create_landscape_request(spec, dim, n_wedges, n_short, kind, eps0, eps1, anchor_scale,
                             union, tau, seed) -> pb.CreateLandscapeRequest:
    """The CreateLandscape request of ``Client.create_landscape``'s arguments."""
    if spec is not None:
        if dim is not None or n_wedges is not None:
            raise ValueError("give spec or random parameters (dim, n_wedges, ...), not both")
        return pb.CreateLandscapeRequest(spec=spec_to_proto(spec))
    if dim is None or n_wedges is None:
        raise ValueError("give spec, or dim and n_wedges (and n_short) to draw a random "
                         "landscape")
    if kind not in FRAMES:
        raise ValueError(f"kind must be one of {sorted(FRAMES)}, got {kind!r}")
    if union not in UNIONS:
        raise ValueError(f"union must be one of {sorted(UNIONS)}, got {union!r}")
    random_msg = pb.RandomLandscapeParams(
        dim=int(dim), n_wedges=int(n_wedges),
        n_short=[int(s) for s in np.atleast_1d(n_short)], kind=FRAMES[kind],
        eps0=[float(e) for e in np.atleast_1d(eps0)],
        eps1=[float(e) for e in np.atleast_1d(eps1)],
        anchor_scale=float(anchor_scale), union=UNIONS[union], seed=int(seed))
    if tau is not None:
        random_msg.tau = float(tau)
    return pb.CreateLandscapeRequest(random=random_msg)


def _sampling(msg: pb.PathSampling, t, num_t) -> None:
    if t is not None and num_t is not None:
        raise ValueError("give t or num_t, not both")
    if t is not None:
        msg.t.CopyFrom(float_array(t, "t"))
    else:
        msg.num_t = 51 if num_t is None else int(num_t)


def section_request(landscape_id: str, kind: str, params: dict) -> pb.SectionRequest:
    """The Section request of ``Client.section(landscape_id, kind, **params)``."""
    if kind not in SECTION_KINDS:
        raise ValueError(f"kind must be one of {list(SECTION_KINDS)}, got {kind!r}")
    required, optional = SECTION_KINDS[kind]
    missing = [k for k in required if params.get(k) is None]
    unknown = sorted(set(params) - set(required) - set(optional))
    if missing or unknown:
        raise TypeError(f"section {kind!r} needs {list(required)} and takes "
                        f"{list(optional)}; missing {missing}, unknown {unknown}")
    request = pb.SectionRequest(landscape_id=landscape_id)
    msg = getattr(request, kind)
    p = params
    if kind in ("line", "chain", "bezier"):
        for name in required:
            getattr(msg, name).CopyFrom(float_array(p[name], name))
        _sampling(msg.sampling, p.get("t"), p.get("num_t"))
    elif kind == "simplex":
        msg.vertices.CopyFrom(float_array(p["vertices"], "vertices"))
        msg.resolution = int(p["resolution"])
    elif kind == "plane":
        for name in ("origin", "d1", "d2"):
            getattr(msg, name).CopyFrom(float_array(p[name], name))
        if p.get("extent") is not None:
            msg.extent = float(p["extent"])
        msg.resolution = int(p.get("resolution") or 0)
        if (p.get("alpha") is None) != (p.get("beta") is None):
            raise ValueError("give both alpha and beta, or neither")
        if p.get("alpha") is not None:
            msg.alpha.CopyFrom(float_array(p["alpha"], "alpha"))
            msg.beta.CopyFrom(float_array(p["beta"], "beta"))
        msg.raw_directions = bool(p.get("raw_directions", False))
    else:  # radial
        for name in required:
            getattr(msg, name).CopyFrom(float_array(p[name], name))
    return request


def descend_request(landscape_id: str, x0, radius, n, init_seed: int, optimizer: str,
                    seed: int, options: dict) -> pb.DescendRequest:
    """The Descend request of ``Client.descend``'s arguments."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got "
                         f"{optimizer!r}")
    opts = pb.DescentOptions(optimizer=OPTIMIZERS[optimizer])
    for name, value in options.items():
        if name not in pb.DescentOptions.DESCRIPTOR.fields_by_name or name == "optimizer":
            raise TypeError(f"unknown descent option {name!r}")
        if value is not None:
            setattr(opts, name, int(value) if name in ("steps", "record_every")
                    else float(value))
    request = pb.DescendRequest(landscape_id=landscape_id, options=opts, seed=int(seed))
    if x0 is not None:
        if radius is not None or n is not None:
            raise ValueError("give x0 or (radius, n), not both")
        request.x0.CopyFrom(to_ndarray(points(x0, "x0")[0]))
    elif radius is not None and n is not None:
        request.init.CopyFrom(pb.InitAtRadius(radius=float(radius), n=int(n),
                                              seed=int(init_seed)))
    else:
        raise ValueError("give x0, or radius and n")
    return request


def grid_value_text(value) -> str:
    """One grid value as SweepGrid text: tuples and lists as ``a/b/c``, bools as
    ``true``/``false``, numbers and strings as written."""
    if isinstance(value, (tuple, list)):
        return "/".join(grid_value_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def create_job_request(experiment: str, kind: str, config, quick: bool, seed: int,
                       request_id: str | None, replicate: int, arm: str,
                       max_attempts: int, grid=None, seeds: int = 0,
                       controls: bool = False) -> jobs_pb2.CreateJobRequest:
    """The CreateJob request of ``Client.submit``'s arguments (a fresh uuid4 request id
    when none is given); ``grid`` ({field: values}) or ``seeds`` make it a sweep job."""
    if kind not in JOB_KINDS:
        raise ValueError(f"kind must be one of {sorted(JOB_KINDS)}, got {kind!r}")
    if arm not in JOB_ARMS:
        raise ValueError(f"arm must be one of {sorted(JOB_ARMS)}, got {arm!r}")
    request = jobs_pb2.CreateJobRequest(
        experiment_id=experiment, kind=JOB_KINDS[kind], quick=bool(quick), seed=int(seed),
        request_id=request_id or uuid.uuid4().hex, max_attempts=int(max_attempts),
        replicate=int(replicate), arm=JOB_ARMS[arm])
    if config is not None:
        request.config_json = config if isinstance(config, str) else json.dumps(config)
    if grid or seeds or controls:
        for name, values in dict(grid or {}).items():
            values = [values] if isinstance(values, (str, int, float)) else list(values)
            request.sweep.axes.add(field=str(name),
                                   values=[grid_value_text(v) for v in values])
        request.sweep.seeds = int(seeds or 1)
        request.sweep.controls = bool(controls)
    return request


def job_state_values(state: str | Sequence[str] | None) -> list[int]:
    """JobState enum values of a state name, a list of names or None (all)."""
    states = [] if state is None else [state] if isinstance(state, str) else list(state)
    values = []
    for s in states:
        name = s.upper().removeprefix("JOB_STATE_")
        if name not in JOB_STATES:
            raise ValueError(f"state must be one of {JOB_STATES}, got {s!r}")
        values.append(jobs_pb2.JobState.Value(f"JOB_STATE_{name}"))
    return values
