"""Section requests read into plain library calls (landsim_server.landscape_sections) and
the per-call checks they share with the other methods (landsim_server.request_checks)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from landsim_server.arrays import to_ndarray
from landsim_server.errors import InvalidArgument, ResourceExhausted
from landsim_server.landscape_sections import section_job
from landsim_server.request_checks import (
    check_bytes,
    check_count,
    checkpoint,
    read_points,
    require,
)
from landsim_server.service_limits import ServiceLimits
from landsim_wire.v1 import landscape_pb2 as pb

from landsim import paths, sections
from landsim.spec import random_landscape

SPEC = random_landscape(8, 3, 2, seed=4)
LIMITS = ServiceLimits()


def _run(request, limits=LIMITS):
    fn, args, field = section_job(request, SPEC, limits)
    return fn(*args), field


def test_line_equals_the_library():
    a, b = np.zeros(8), np.ones(8)
    out, field = _run(pb.SectionRequest(line=pb.LinePath(
        a=to_ndarray(a), b=to_ndarray(b), sampling=pb.PathSampling(num_t=17))))
    t = paths.as_t(17)
    want = paths.path_barrier(SPEC, paths.line(a, b, t), t)
    assert field == "line"
    np.testing.assert_array_equal(out["loss"], want.loss)
    assert out["barrier"] == want.barrier and out["argmax"] == want.argmax


def test_simplex_and_radial_equal_the_library():
    V = np.eye(3, 8)
    out, field = _run(pb.SectionRequest(simplex=pb.SimplexGrid(vertices=to_ndarray(V),
                                                               resolution=4)))
    weights = paths.simplex_grid(3, 4)
    assert field == "simplex"
    np.testing.assert_array_equal(out["weights"], weights)
    radii, angles = np.linspace(0, 2, 3), np.linspace(0, 1, 5)
    e1, e2 = np.eye(2, 8)
    out, field = _run(pb.SectionRequest(radial=pb.RadialGrid(
        origin=to_ndarray(np.zeros(8)), d1=to_ndarray(e1), d2=to_ndarray(e2),
        radii=to_ndarray(radii), angles=to_ndarray(angles))))
    want = sections.radial_section(SPEC, np.zeros(8), e1, e2, radii, angles)
    assert field == "radial"
    np.testing.assert_array_equal(out["loss"], want.loss)


@pytest.mark.parametrize("request_,error,field", [
    (pb.SectionRequest(), InvalidArgument, "section"),
    (pb.SectionRequest(line=pb.LinePath(sampling=pb.PathSampling(num_t=3))),
     InvalidArgument, "line.a"),
    (pb.SectionRequest(line=pb.LinePath()), InvalidArgument, "line.sampling"),
    (pb.SectionRequest(simplex=pb.SimplexGrid(vertices=to_ndarray(np.eye(3, 8)))),
     InvalidArgument, "simplex.resolution"),
    (pb.SectionRequest(line=pb.LinePath(sampling=pb.PathSampling(num_t=10**7))),
     ResourceExhausted, "line.sampling"),
])
def test_bad_sections_name_the_field(request_, error, field):
    with pytest.raises(error) as exc:
        section_job(request_, SPEC, LIMITS)
    assert exc.value.field == field


def test_limit_checks():
    limits = ServiceLimits(max_points=5)
    check_count(limits, "points", 5)
    with pytest.raises(ResourceExhausted, match="points: 6 exceeds the server limit of 5"):
        check_count(limits, "points", 6)
    check_bytes("x", 10, 10)
    with pytest.raises(ResourceExhausted, match="x: 11 exceeds .* of 10; advice"):
        check_bytes("x", 11, 10, "advice")
    with pytest.raises(InvalidArgument, match="points: is required"):
        require(pb.EvaluateRequest(), "points", "points")
    request = pb.EvaluateRequest(points=to_ndarray(np.zeros((6, 8))))
    with pytest.raises(ResourceExhausted):
        read_points(limits, request, "points", "points", SPEC)
    with pytest.raises(InvalidArgument, match=r"must be \(B, D=8\)"):
        read_points(LIMITS, pb.EvaluateRequest(points=to_ndarray(np.zeros((2, 7)))),
                    "points", "points", SPEC)
    assert read_points(LIMITS, request, "points", "points", SPEC).shape == (6, 8)


class _Context:
    def __init__(self, cancelled=False, remaining=None):
        self._cancelled, self._remaining = cancelled, remaining

    def cancelled(self):
        return self._cancelled

    def done(self):
        return False

    def time_remaining(self):
        return self._remaining


def test_checkpoint_stops_cancelled_or_late_calls():
    checkpoint(_Context())
    checkpoint(_Context(remaining=1.0))
    for context in (_Context(cancelled=True), _Context(remaining=0.0)):
        with pytest.raises(asyncio.CancelledError):
            checkpoint(context)
