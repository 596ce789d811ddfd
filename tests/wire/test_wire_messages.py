"""landsim_wire.enums and landsim_wire.messages: the conversions both sides make."""

from __future__ import annotations

import numpy as np
import pytest
from landsim_wire import enums, messages
from landsim_wire.errors import WireError
from landsim_wire.v1 import jobs_pb2
from landsim_wire.v1 import landscape_pb2 as pb


class _Wedge:
    def __init__(self, axes=None, frame=None, anchor=None):
        self.dim, self.eps0, self.eps1 = 4, 0.0, 0.1
        self.short_axes, self.short_frame, self.anchor = axes, frame, anchor


class _Spec:
    def __init__(self, wedges, union="soft", tau=0.5):
        self.wedges, self.union, self.tau = wedges, union, tau


def test_spec_round_trip_through_plain_values():
    frame = np.linalg.qr(np.random.default_rng(0).normal(size=(4, 2)))[0]
    spec = _Spec([_Wedge(axes=np.array([0, 2])), _Wedge(frame=frame, anchor=np.ones(4))])
    msg = messages.spec_to_proto(spec)
    assert msg.dim == 4 and msg.union == pb.UNION_SOFT and not msg.wedges[0].HasField("anchor")
    values = messages.spec_values(msg)
    assert (values["dim"], values["union"], values["tau"]) == (4, "soft", 0.5)
    w0, w1 = values["wedges"]
    assert w0["short_axes"].tolist() == [0, 2] and w0["short_frame"] is None
    assert np.array_equal(w1["short_frame"], frame) and np.array_equal(w1["anchor"], np.ones(4))
    assert w1["short_frame"].flags.writeable
    assert not messages.spec_values(msg, copy=False)["wedges"][1]["anchor"].flags.writeable


def test_spec_values_name_the_bad_field():
    msg = pb.LandscapeSpec(dim=3, wedges=[pb.Wedge(eps1=0.1)])
    with pytest.raises(WireError) as info:
        messages.spec_values(msg, "spec")
    assert info.value.field == "spec.wedges[0]"
    msg.wedges[0].short_frame.CopyFrom(pb.Wedge().short_frame)
    msg.wedges[0].short_frame.dtype = "float32"
    with pytest.raises(WireError) as info:
        messages.spec_values(msg, "spec")
    assert info.value.field == "spec.wedges[0].short_frame.dtype"
    with pytest.raises(WireError, match="spec.union"):
        messages.spec_values(pb.LandscapeSpec(dim=3, union=7), "spec")


def test_random_values_and_per_wedge_fields():
    msg = pb.RandomLandscapeParams(dim=10, n_wedges=3, n_short=[2], eps1=[0.1, 0.2, 0.3],
                                   kind=pb.FRAME_KIND_ROTATED, seed=7)
    v = messages.random_values(msg)
    assert v == {"dim": 10, "n_wedges": 3, "n_short": 2, "kind": "rotated", "eps0": 0.0,
                 "eps1": [0.1, 0.2, 0.3], "anchor_scale": 0.0, "union": "hard", "tau": 1.0,
                 "seed": 7}
    with pytest.raises(WireError) as info:
        messages.random_values(pb.RandomLandscapeParams(dim=10, n_wedges=3))
    assert info.value.field == "random.n_short"
    with pytest.raises(WireError) as info:
        messages.per_wedge("r.eps0", [1.0, 2.0], 3, 0.0)
    assert info.value.field == "r.eps0"


def test_descent_values_hold_only_the_fields_set():
    assert messages.descent_values(pb.DescentOptions()) == {"optimizer": "gd"}
    got = messages.descent_values(pb.DescentOptions(optimizer=pb.OPTIMIZER_ADAM, lr=0.1,
                                                    beta2=0.9))
    assert got == {"optimizer": "adam", "lr": 0.1, "beta2": 0.9}
    with pytest.raises(WireError, match="options.optimizer"):
        messages.descent_values(pb.DescentOptions(optimizer=99))


def test_enum_maps_are_inverse_and_states_checked():
    for names, values in [(enums.UNION_NAMES, enums.UNIONS), (enums.FRAME_NAMES, enums.FRAMES),
                          (enums.OPTIMIZER_NAMES, enums.OPTIMIZERS),
                          (enums.JOB_KIND_NAMES, enums.JOB_KINDS),
                          (enums.JOB_ARM_NAMES, enums.JOB_ARMS),
                          (enums.JOB_STATE_NAMES, enums.JOB_STATES)]:
        assert all(names[v] == k for k, v in values.items())
    assert enums.JOB_STATES["QUEUED"] == jobs_pb2.JOB_STATE_QUEUED
    assert enums.job_state_names([3, 1, 3]) == ["QUEUED", "SUCCEEDED"]
    with pytest.raises(WireError, match="states"):
        enums.job_state_names([0])


def test_result_parts_round_trip():
    series = {"loss": np.linspace(0, 1, 5), "hits": np.arange(6).reshape(2, 3) > 2}
    values = {"experiment": "E1", "kind": "toy", "config": {"b": 1, "a": [1, 2]}, "seed": 3,
              "version": "0.1.0", "machine": "m", "timings": {"run": 1.5},
              "metrics": {"x": 0.25}, "verdict": {"holds": True, "rule": "r", "evidence": "e"},
              "replicate": 2, "arm": "control"}
    parts = list(messages.result_parts(values, series, chunk_bytes=16))
    assert parts[0].WhichOneof("part") == "summary" and len(parts) > 3
    back, arrays = messages.result_values(parts)
    assert back == values
    assert list(arrays) == ["loss", "hits"]
    assert all(np.array_equal(arrays[k], series[k]) for k in series)
    with pytest.raises(WireError, match="before the result summary"):
        messages.result_values(parts[1:])
    with pytest.raises(WireError, match="second result summary"):
        messages.result_values(parts[:1] * 2)


def test_timestamps():
    job = jobs_pb2.Job()
    assert messages.timestamp_seconds(job.create_time) is None
    messages.set_timestamp(job.create_time, None)
    assert not job.HasField("create_time")
    messages.set_timestamp(job.create_time, 12.5)
    assert messages.timestamp_seconds(job.create_time) == 12.5
