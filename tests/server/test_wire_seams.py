"""The server's seams to landsim_wire: wire errors -> domain errors, the job message
conversions, library errors named after request fields, and the moved job_service names."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest
from landsim_server import convert, job_convert, job_runtime
from landsim_server.errors import (
    InvalidArgument,
    ResourceExhausted,
    from_wire_error,
    wire_errors,
)
from landsim_wire import messages
from landsim_wire.errors import WireError, WireLimitError
from landsim_wire.v1 import jobs_pb2
from landsim_wire.v1 import landscape_pb2 as pb

from landsim.results import Result, Verdict


def test_wire_errors_become_domain_errors():
    err = from_wire_error(WireError("must be one of ['float64'], got 'x'", "points.dtype"))
    assert isinstance(err, InvalidArgument) and err.field == "points.dtype"
    assert err.description == "must be one of ['float64'], got 'x'"
    limit = from_wire_error(WireLimitError("points", 16, 32, "too big"))
    assert isinstance(limit, ResourceExhausted)
    assert (limit.field, limit.limit, limit.got) == ("points", 16, 32)
    with pytest.raises(InvalidArgument), wire_errors():
        raise WireError("bad", "x")
    with pytest.raises(ValueError, match="plain"), wire_errors():  # not a wire error
        raise ValueError("plain")


def test_library_errors_are_named_after_the_request_field():
    with pytest.raises(InvalidArgument) as info:
        convert.random_from_proto(pb.RandomLandscapeParams(dim=5, n_wedges=2, n_short=[2, 9]),
                                  1 << 20)
    assert info.value.field == "random.n_short[1]"
    assert str(info.value).startswith("random.n_short[1]: n_short")
    with pytest.raises(InvalidArgument) as info:
        convert.random_from_proto(pb.RandomLandscapeParams(dim=0, n_wedges=1, n_short=[1]),
                                  1 << 20)
    assert info.value.field == "random.dim"
    with pytest.raises(InvalidArgument) as info:
        convert.random_from_proto(pb.RandomLandscapeParams(dim=5, n_wedges=1, n_short=[1],
                                                           kind=7), 1 << 20)
    assert info.value.field == "random.kind"
    with pytest.raises(InvalidArgument) as info:
        convert.spec_from_proto(pb.LandscapeSpec(dim=3), 1 << 20)
    assert info.value.field == "spec.wedges"


def test_spec_round_trip_through_the_server_conversions():
    msg = pb.RandomLandscapeParams(dim=6, n_wedges=2, n_short=[2, 3], anchor_scale=0.5,
                                   kind=pb.FRAME_KIND_ROTATED, seed=4)
    spec = convert.random_from_proto(msg, 1 << 20)
    again = convert.spec_from_proto(convert.spec_to_proto(spec), 1 << 20)
    assert again == spec


def test_job_result_parts_read_back_with_the_wire_reader():
    result = Result(experiment="E1", kind="toy", config={"n": 3}, seed=5, version="v",
                    timings={"run": 0.5}, metrics={"m": 1.25},
                    series={"a": np.arange(7.0), "b": np.arange(6).reshape(2, 3)},
                    verdict=Verdict(True, "rule", "evidence"), machine="here",
                    arm="control", replicate=2)
    parts = list(job_convert.result_parts(result, 16))
    values, series = messages.result_values(parts)
    assert values["verdict"] == {"holds": True, "rule": "rule", "evidence": "evidence"}
    assert (values["arm"], values["replicate"], values["config"]) == ("control", 2, {"n": 3})
    assert parts[0].summary.config_json == json.dumps({"n": 3}, sort_keys=True)
    assert all(np.array_equal(series[k], result.series[k]) for k in result.series)


def test_states_filter():
    assert job_convert.states_filter([jobs_pb2.JOB_STATE_RUNNING, 1]) == ["QUEUED", "RUNNING"]
    with pytest.raises(InvalidArgument) as info:
        job_convert.states_filter([0])
    assert info.value.field == "states"


@pytest.mark.parametrize("name, module", [
    ("JobRuntime", job_runtime), ("RuntimeSettings", job_runtime),
    ("spec_from_request", job_convert), ("job_to_proto", job_convert),
    ("result_parts", job_convert)])
def test_moved_job_service_names_warn(name, module):
    job_service = importlib.import_module("landsim_server.job_service")
    with pytest.warns(DeprecationWarning, match=f"{module.__name__}.{name}"):
        assert getattr(job_service, name) is getattr(module, name)
