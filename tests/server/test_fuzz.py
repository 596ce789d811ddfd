"""A seeded, reflection-driven fuzz of every RPC of the server (tests/server/fuzz_kit.py):
whatever the bytes, a call gets only a status docs/service.md documents, every
INVALID_ARGUMENT names its field in a BadRequest, health stays SERVING, nothing is logged
at ERROR or with a traceback, and a normal call works afterwards. The checker itself is
shown to fail on controls."""

from __future__ import annotations

import logging
import time

import grpc
import numpy as np
import pytest
from fuzz_kit import (
    SERVICES,
    ErrorLog,
    Outcome,
    RequestFuzzer,
    allowed_codes,
    documented_codes,
    problems,
    run_fuzz,
)
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from landsim_server.arrays import from_ndarray, to_ndarray
from landsim_wire.v1 import landscape_pb2 as pb
from landsim_wire.v1 import landscape_pb2_grpc
from test_landscape_service import ServerThread

from landsim import geometry
from landsim.spec import random_landscape

SEED = 20261205
REQUESTS = 3000
DIM = 6
TIME_LIMIT_S = 120.0  # the run takes a few seconds; this bounds a pathological slowdown


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    try:
        with ServerThread(data_dir=str(tmp_path_factory.mktemp("fuzz")),
                          max_message_bytes=256 << 10, max_points=5000) as srv, \
                grpc.insecure_channel(srv.address) as channel:
            stub = landscape_pb2_grpc.LandscapeServiceStub(channel)
            land = stub.CreateLandscape(pb.CreateLandscapeRequest(
                random=pb.RandomLandscapeParams(dim=DIM, n_wedges=3, n_short=[2], seed=1)))
            yield channel, stub, land.id, errors
    finally:
        logging.getLogger().removeHandler(errors)


def test_documented_codes_are_read_from_the_docs():
    names = documented_codes()
    assert {"INVALID_ARGUMENT", "NOT_FOUND", "RESOURCE_EXHAUSTED", "INTERNAL"} <= names
    allowed = allowed_codes()
    assert grpc.StatusCode.OK in allowed
    assert grpc.StatusCode.INTERNAL not in allowed and grpc.StatusCode.UNKNOWN not in allowed


def _status(code: int, field: str | None) -> status_pb2.Status:
    details = []
    if field is not None:
        packed = any_pb2.Any()
        packed.Pack(error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=field, description="bad")]))
        details.append(packed)
    return status_pb2.Status(code=code, message="x", details=details)


@pytest.mark.parametrize("code, field, bad", [
    (grpc.StatusCode.UNKNOWN, None, True),  # an undecodable body, before the fix
    (grpc.StatusCode.INTERNAL, None, True),  # documented, but never for a request
    (grpc.StatusCode.OUT_OF_RANGE, None, True),  # not documented at all
    (grpc.StatusCode.INVALID_ARGUMENT, None, True),  # no BadRequest
    (grpc.StatusCode.INVALID_ARGUMENT, "", True),  # a BadRequest naming no field
    (grpc.StatusCode.INVALID_ARGUMENT, "points.shape", False),
    (grpc.StatusCode.NOT_FOUND, None, False),
    (grpc.StatusCode.OK, None, False),
])
def test_checker_fails_on_controls(code, field, bad):
    outcome = Outcome("/landsim.v1.LandscapeService/Evaluate", code, "control",
                      _status(code.value[0], field))
    assert bool(problems(outcome, allowed_codes())) is bad


def test_fuzz_gets_only_documented_codes(served):
    channel, stub, land_id, errors = served
    fuzzer = RequestFuzzer(SEED, land_id, DIM)
    assert {path.split("/")[1] for path, _ in fuzzer.methods} == \
        {s.full_name for s in SERVICES}
    start = time.perf_counter()
    report = run_fuzz(channel, fuzzer, REQUESTS, allowed_codes())
    assert time.perf_counter() - start < TIME_LIMIT_S
    assert report.problems == []
    assert report.not_serving == 0
    # the fuzz reaches past the checks, and tries every method
    assert report.codes.get("OK", 0) > 50 and report.codes.get("INVALID_ARGUMENT", 0) > 1000
    assert {m for m, _ in report.by_method} == {m.name for _, m in fuzzer.methods}
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                      timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    # a normal call still gets the library's exact answer
    X = np.random.default_rng(0).normal(size=(4, DIM))
    out = stub.Evaluate(pb.EvaluateRequest(landscape_id=land_id, points=to_ndarray(X)),
                        timeout=30)
    expected = geometry.loss(random_landscape(DIM, 3, 2, seed=1), X)
    np.testing.assert_array_equal(from_ndarray(out.losses, "losses"), expected)
    assert [r.getMessage()[:200] for r in errors.records] == []
