"""Requests an outside fuzz found answered with INTERNAL, UNKNOWN or an oversized error get
documented statuses: a diverging descent (INVALID_ARGUMENT naming the step), shapes whose
element count overflows, an empty simplex, undecodable bodies, and over-long or path-like
job ids."""

from __future__ import annotations

import logging

import grpc
import numpy as np
import pytest
from fuzz_kit import SERVICES, ErrorLog, bad_request_fields, deep_struct
from grpc_status import rpc_status
from landsim_server.descent_guard import DIVERGED_LOSS
from landsim_wire.v1 import jobs_pb2, jobs_pb2_grpc, landscape_pb2_grpc
from landsim_wire.v1 import landscape_pb2 as pb
from landsim_wire.v1.ndarray_pb2 import NdArray
from test_landscape_service import ServerThread

INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("defects")
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    try:
        with ServerThread(data_dir=str(data_dir), max_message_bytes=1 << 20) as srv, \
                grpc.insecure_channel(srv.address) as channel:
            stub = landscape_pb2_grpc.LandscapeServiceStub(channel)
            land = stub.CreateLandscape(pb.CreateLandscapeRequest(
                random=pb.RandomLandscapeParams(dim=100, n_wedges=4, n_short=[10], seed=0)))
            yield channel, stub, jobs_pb2_grpc.JobServiceStub(channel), land.id, data_dir, \
                errors
    finally:
        logging.getLogger().removeHandler(errors)


def _error(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


def _field(exc: grpc.RpcError) -> str:
    fields = bad_request_fields(rpc_status.from_call(exc))
    assert len(fields) == 1, exc.details()
    return fields[0]


def _descend(stub, land_id, **kwargs):
    return list(stub.Descend(pb.DescendRequest(landscape_id=land_id, **kwargs), timeout=60))


@pytest.mark.parametrize("radius, lr, field", [(10.0, 2.0, "options.lr"),
                                               (10.0, 1.5, "options.lr"),
                                               (1e200, 0.1, "init.radius")])
def test_diverging_descent_is_invalid_argument_naming_the_step(served, radius, lr, field):
    _, stub, _, land_id, _, _ = served
    exc = _error(lambda: _descend(stub, land_id,
                                  init=pb.InitAtRadius(radius=radius, n=2, seed=1),
                                  options=pb.DescentOptions(lr=lr, steps=1000)))
    assert exc.code() == INVALID
    assert _field(exc) == field
    assert "diverged at step" in exc.details()


def test_bounded_descent_still_succeeds(served):
    _, stub, _, land_id, _, _ = served
    out = _descend(stub, land_id, init=pb.InitAtRadius(radius=10.0, n=2, seed=1),
                   options=pb.DescentOptions(lr=0.1, steps=50))
    records = [r.record for r in out if r.HasField("record")]
    assert records and all(np.all(np.frombuffer(r.loss.data) <= DIVERGED_LOSS)
                           for r in records)


@pytest.mark.parametrize("rpc", ["Evaluate", "Project"])
def test_overflowing_shape_is_invalid_argument(served, rpc):
    _, stub, _, land_id, _, _ = served
    points = NdArray(dtype="float64", shape=[0, 2**63 - 1], data=b"")
    if rpc == "Evaluate":
        request = pb.EvaluateRequest(landscape_id=land_id, points=points)
    else:
        request = pb.ProjectRequest(landscape_id=land_id, points=points, wedge=0)
    exc = _error(lambda: getattr(stub, rpc)(request, timeout=30))
    assert exc.code() == INVALID and _field(exc) == "points.shape"


def test_empty_simplex_is_invalid_argument(served):
    _, stub, _, land_id, _, _ = served
    request = pb.SectionRequest(landscape_id=land_id, simplex=pb.SimplexGrid(
        vertices=NdArray(dtype="float64", shape=[0, 100], data=b""), resolution=4))
    exc = _error(lambda: list(stub.Section(request, timeout=30)))
    assert exc.code() == INVALID and _field(exc) == "simplex.vertices.shape"


@pytest.mark.parametrize("service, method", [(s, m) for s in SERVICES for m in s.methods])
def test_undecodable_body_is_invalid_argument(served, service, method):
    channel, _, _, _, _, errors = served
    path = f"/{service.full_name}/{method.name}"
    before = len(errors.records)
    if method.client_streaming:
        call = lambda: list(channel.stream_stream(path)(iter([b"\x5d"]), timeout=30))  # noqa
    elif method.server_streaming:
        call = lambda: list(channel.unary_stream(path)(b"\x5d", timeout=30))  # noqa: E731
    else:
        call = lambda: channel.unary_unary(path)(b"\x5d", timeout=30)  # noqa: E731
    exc = _error(call)
    assert exc.code() == INVALID
    assert _field(exc) == method.input_type.full_name
    assert len(errors.records) == before  # a warning line, no ERROR, no traceback


def test_deeply_nested_config_is_invalid_argument(served, caplog):
    channel, _, _, _, _, errors = served
    body = b"\x0a\x02E1" + b"\x22" + _varint_len(deep_struct(150))
    with caplog.at_level(logging.WARNING, logger="landsim_server.decoding"):
        exc = _error(lambda: channel.unary_unary("/landsim.v1.JobService/CreateJob")(
            body, timeout=30))
    assert exc.code() == INVALID and _field(exc) == "landsim.v1.CreateJobRequest"
    lines = [r for r in caplog.records if r.name == "landsim_server.decoding"]
    assert len(lines) == 1 and lines[0].exc_info is None
    assert "\n" not in lines[0].getMessage()
    assert not errors.records


def _varint_len(payload: bytes) -> bytes:
    n, out = len(payload), bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n >> 7 else 0))
        n >>= 7
        if not n:
            return bytes(out) + payload


def _job_calls(jobs, job_id):
    return {
        "GetJob": lambda: jobs.GetJob(jobs_pb2.GetJobRequest(job_id=job_id), timeout=30),
        "CancelJob": lambda: jobs.CancelJob(jobs_pb2.CancelJobRequest(job_id=job_id),
                                            timeout=30),
        "DeleteJob": lambda: jobs.DeleteJob(jobs_pb2.DeleteJobRequest(job_id=job_id),
                                            timeout=30),
        "WatchJob": lambda: list(jobs.WatchJob(jobs_pb2.WatchJobRequest(job_id=job_id),
                                               timeout=30)),
        "GetJobResult": lambda: list(jobs.GetJobResult(
            jobs_pb2.GetJobResultRequest(job_id=job_id), timeout=30)),
    }


@pytest.mark.parametrize("length", [33, 5000, 100_000])
def test_long_job_ids_are_rejected_and_not_echoed(served, length):
    _, _, jobs, _, _, _ = served
    for name, call in _job_calls(jobs, "a" * length).items():
        exc = _error(call)
        assert exc.code() == INVALID, name
        assert _field(exc) == "job_id"
        assert len(exc.details()) < 300, name
        assert length < 48 or f"({length} characters)" in exc.details()


@pytest.mark.parametrize("job_id", ["../" * 10 + "a" * 2, "0" * 31 + "/", "0" * 16 + "\x00" +
                                    "0" * 15, "..", "/etc/passwd", "A" * 32, "0" * 31 + "\\",
                                    "", "0" * 32 + "\n"])
def test_no_job_id_can_reach_a_file_path(served, job_id):
    _, _, jobs, _, data_dir, _ = served
    before = sorted(p.relative_to(data_dir) for p in data_dir.rglob("*"))
    for name, call in _job_calls(jobs, job_id).items():
        exc = _error(call)
        assert exc.code() == INVALID and _field(exc) == "job_id", name
    after = sorted(p.relative_to(data_dir) for p in data_dir.rglob("*"))
    assert [p for p in after if p not in before and p.suffix not in (".db-wal", ".db-shm")] \
        == []


def test_well_formed_unknown_job_id_is_still_not_found(served):
    _, _, jobs, _, _, _ = served
    for name, call in _job_calls(jobs, "0" * 32).items():
        assert _error(call).code() == grpc.StatusCode.NOT_FOUND, name


def test_a_simplex_grid_whose_weights_overflow_the_budget_is_refused_up_front(served):
    """The soak's one INTERNAL (a MemoryError): a grid of n points over m vertices keeps
    n x m weights, which the check must count, not only the n x D points."""
    _, stub, _, land_id, _, _ = served
    vertices = np.zeros((1000, 100))  # resolution 2: n = C(1001, 2) = 500,500 points
    request = pb.SectionRequest(landscape_id=land_id, simplex=pb.SimplexGrid(
        vertices=NdArray(dtype="float64", shape=list(vertices.shape),
                         data=vertices.tobytes()), resolution=2))
    exc = _error(lambda: list(stub.Section(request, timeout=30)))
    assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "simplex.resolution" in exc.details()
