"""The client's plain records and their converters: SpecRecord <-> landsim.spec (files
byte for byte, the duck-typed spec argument), JobResult -> landsim.results.Result
(``landsim.client_records``), and the error details / health messages that the light
client decodes without googleapis-common-protos."""

from __future__ import annotations

import types

import grpc
import numpy as np
import pytest
from google.rpc import error_details_pb2, status_pb2
from landsim_client import JobResult, LandsimError, SpecRecord, Verdict, WedgeRecord, rpc_protos
from landsim_client import errors as client_errors
from landsim_wire.v1 import landscape_pb2 as pb

from landsim.client_records import record_from_spec, result_from_record, spec_from_record
from landsim.results import load_result, save_result
from landsim.spec import LandscapeSpec, random_landscape

TOKEN = "test-token"  # the token of the conftest servers
SPECS = {
    "axis": random_landscape(12, 3, [2, 3, 4], eps1=0.1, anchor_scale=0.5, seed=1),
    "rotated-soft": random_landscape(8, 2, 3, kind="rotated", union="soft", tau=0.5, seed=2),
}


@pytest.fixture(scope="module")
def client(server):
    from landsim_client import Client

    with Client(server.target, token=TOKEN) as c:
        yield c


# ---------------------------------------------------------------------- specs
@pytest.mark.parametrize("name", list(SPECS))
def test_spec_record_reads_and_writes_landsim_files_exactly(name, tmp_path):
    spec = SPECS[name]
    record = record_from_spec(spec)
    assert isinstance(record, SpecRecord) and record == SpecRecord.from_spec(spec)
    assert (record.dim, record.n_wedges, record.kind) == (spec.dim, spec.n_wedges, spec.kind)
    assert record.to_json() == spec.to_json() and record.to_dict() == spec.to_dict()
    assert SpecRecord.from_json(spec.to_json()) == record
    assert spec_from_record(record) == spec
    spec.save_npz(tmp_path / "lib.npz")
    assert SpecRecord.load_npz(tmp_path / "lib.npz") == record
    record.save_npz(tmp_path / "rec.npz")
    assert LandscapeSpec.load_npz(tmp_path / "rec.npz") == spec
    assert all(not w.short_axes.flags.writeable for w in record.wedges
               if w.short_axes is not None)


def test_spec_record_checks_its_shape_only():
    with pytest.raises(ValueError, match="exactly one"):
        WedgeRecord(dim=3, eps0=0.0, eps1=0.1)
    with pytest.raises(ValueError, match="integers"):
        WedgeRecord(dim=3, eps0=0.0, eps1=0.1, short_axes=[0.5])
    with pytest.raises(ValueError, match="format"):
        SpecRecord.from_dict({"wedges": []})
    with pytest.raises(ValueError, match="WedgeRecord"):
        SpecRecord(wedges=())


@pytest.mark.parametrize("name", list(SPECS))
def test_create_landscape_takes_any_spec_shaped_argument(client, name):
    spec = SPECS[name]
    lid = client.create_landscape(spec)  # a landsim LandscapeSpec, by duck typing
    duck = types.SimpleNamespace(
        union=spec.union, tau=spec.tau,
        wedges=[types.SimpleNamespace(dim=w.dim, eps0=w.eps0, eps1=w.eps1,
                                      short_axes=None if w.short_axes is None
                                      else w.short_axes.tolist(),
                                      short_frame=w.short_frame, anchor=w.anchor)
                for w in spec.wedges])
    record = client.get_landscape(lid, include_spec=True).spec
    assert isinstance(record, SpecRecord) and spec_from_record(record) == spec
    message = pb.LandscapeSpec()
    from landsim_client.convert import spec_to_proto

    message.CopyFrom(spec_to_proto(spec))
    for same in (record, duck, spec.to_dict(), record.to_dict(), message):
        assert client.create_landscape(same) == lid
    with pytest.raises(TypeError, match="landscape spec"):
        client.create_landscape(42)


# ---------------------------------------------------------------------- results
def _record() -> JobResult:
    return JobResult(experiment="E1", kind="toy", config={"dim": 3, "steps": [1, 2]},
                     seed=4, version="0.1.0", timings={"total": 0.5},
                     metrics={"rise": 0.25, "gap": float("nan")},
                     series={"loss": np.arange(6.0).reshape(2, 3),
                             "hits": np.array([True, False])},
                     verdict=Verdict(True, "rise <= 1%", "the rise is 0.25"),
                     machine="x86_64 Linux", arm="control", replicate=2)


def test_result_from_record_and_the_saved_files_match_landsim(tmp_path):
    record = _record()
    result = result_from_record(record)
    assert (result.stem, result.arm, result.replicate) == (record.stem, "control", 2)
    assert result.verdict.holds and result.verdict.rule == record.verdict.rule
    assert result.to_json_dict() == {**record.to_json_dict(),
                                     "metrics": result.to_json_dict()["metrics"]}
    assert result.to_json_dict()["metrics"] == record.to_json_dict()["metrics"]
    mine = record.save(tmp_path / "client")
    theirs = save_result(result, tmp_path / "landsim")
    assert mine.name == theirs.name and mine.read_text() == theirs.read_text()
    back = load_result(mine)
    assert back.config == result.config and back.verdict == result.verdict
    assert all(np.array_equal(back.series[k], v) for k, v in record.series.items())


def test_client_result_format_is_landsims():
    from landsim_client.job_result import RESULT_FORMAT

    from landsim.results import FORMAT

    assert RESULT_FORMAT == FORMAT


# ---------------------------------------------------------------------- rpc protos
@pytest.mark.parametrize("name", ["Status", "ErrorInfo", "BadRequest", "ResourceInfo",
                                  "QuotaFailure", "PreconditionFailure", "DebugInfo",
                                  "RequestInfo", "LocalizedMessage"])
def test_private_rpc_messages_have_the_standard_field_numbers(name):
    status_cls, details = rpc_protos.status_classes()
    mine = (status_cls if name == "Status" else details[name]).DESCRIPTOR
    std = (status_pb2.Status if name == "Status" else getattr(error_details_pb2, name)
           ).DESCRIPTOR
    for d_mine, d_std in [(mine, std), *[(mine.nested_types_by_name[n.name], n)
                                         for n in std.nested_types]]:
        got = {f.name: (f.number, f.type == f.TYPE_MESSAGE) for f in d_mine.fields}
        want = {f.name: (f.number, f.type == f.TYPE_MESSAGE) for f in d_std.fields}
        assert d_mine.full_name == d_std.full_name
        # a subset of the standard fields (newer protos add some), with the same numbers
        assert {k: v for k, v in want.items() if k in got} == got


def _trailer() -> tuple:
    status = status_pb2.Status(code=3, message="bad")
    for detail in (
            error_details_pb2.BadRequest(field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field="points.shape",
                                                            description="need D=24")]),
            error_details_pb2.ErrorInfo(reason="LIMIT_EXCEEDED", domain="landsim",
                                        metadata={"got": "9", "limit": "4"}),
            error_details_pb2.ResourceInfo(resource_type="landsim.v1.Landscape",
                                           resource_name="abc"),
            error_details_pb2.PreconditionFailure(violations=[
                error_details_pb2.PreconditionFailure.Violation(type="JOB_STATE",
                                                                subject="j", description="d")]),
            error_details_pb2.QuotaFailure(violations=[
                error_details_pb2.QuotaFailure.Violation(subject="plane", description="q")]),
            error_details_pb2.RetryInfo(retry_delay={"seconds": 1, "nanos": 500_000_000}),
            error_details_pb2.Help()):  # not decoded by the light client: kept as Any
        status.details.add().Pack(detail)
    return ((client_errors.DETAILS_KEY, status.SerializeToString()),)


def test_error_details_decode_the_same_without_googleapis_common_protos():
    standard = client_errors._decode_details(_trailer(), standard=True)
    light = client_errors._decode_details(_trailer(), standard=False)
    assert [type(d).__name__ for d in light] == [type(d).__name__ for d in standard][:6] + [
        "Any"]
    a = LandsimError("bad", standard, code=grpc.StatusCode.INVALID_ARGUMENT)
    b = LandsimError("bad", light, code=grpc.StatusCode.INVALID_ARGUMENT)
    assert a.retry_after_s == b.retry_after_s == 1.5
    for attr in ("field_violations", "quota_violations", "precondition_violations",
                 "resource", "error_info", "retry_after_s"):
        assert getattr(a, attr) == getattr(b, attr), attr
    assert b.field == "points.shape" and b.error_info[2] == {"got": "9", "limit": "4"}
    assert b.detail_lines() == a.detail_lines()
    assert client_errors._decode_details(((client_errors.DETAILS_KEY, b"\xff"),),
                                         standard=False) == []


def test_health_without_grpcio_health_checking(client):
    request_cls, response_cls = rpc_protos.health_messages()
    assert request_cls.DESCRIPTOR.full_name == "grpc.health.v1.HealthCheckRequest"
    assert client.health() == "SERVING"
    assert rpc_protos.serving_status_name(2) == "NOT_SERVING"
    assert rpc_protos.serving_status_name(9) == "9"
