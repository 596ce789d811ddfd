"""Sweep jobs: CreateJob with a grid runs landsim sweep as one job; its result lists every
unit's result, and those results are exactly the units' own."""

from __future__ import annotations

import json

import grpc
import numpy as np
import pytest
from landsim_server.sweep_jobs import MAX_UNITS
from landsim_wire.v1 import jobs_pb2

from landsim.sweep import SweepSpec, plan
from landsim.units import experiment_module, run_unit
from tests.server.test_job_service import TINY_E1, JobServer, bad_field, wait_job

S = jobs_pb2


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    server = JobServer(tmp_path_factory.mktemp("sweeps"))
    yield server
    server.close()


def sweep_request(axes=(("steps", ("40", "60")),), seeds=2, controls=False, **kw):
    grid = jobs_pb2.SweepGrid(seeds=seeds, controls=controls)
    for name, values in axes:
        grid.axes.add(field=name, values=list(values))
    return jobs_pb2.CreateJobRequest(experiment_id="E1", config_json=json.dumps(TINY_E1),
                                     quick=True, seed=7, sweep=grid, **kw)


def summary_of(stub, job_id):
    parts = list(stub.GetJobResult(jobs_pb2.GetJobResultRequest(job_id=job_id), timeout=30))
    return parts[0].summary


def test_a_sweep_job_lists_every_unit_and_matches_the_units_run_alone(served):
    job = served.stub.CreateJob(sweep_request(controls=True, request_id="sweep-1"), timeout=30)
    assert [a.field for a in job.sweep.axes] == ["steps"] and job.sweep.seeds == 2
    again = served.stub.CreateJob(sweep_request(controls=True, request_id="sweep-1"),
                                  timeout=30)
    assert again.id == job.id  # idempotent, the sweep is part of the body
    with pytest.raises(grpc.RpcError) as err:  # same id, another sweep: a conflict
        served.stub.CreateJob(sweep_request(seeds=3, request_id="sweep-1"), timeout=30)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    done = wait_job(served.stub, job.id, lambda j: j.state >= S.JOB_STATE_SUCCEEDED, 240)
    assert done.state == S.JOB_STATE_SUCCEEDED, done.error
    summary = summary_of(served.stub, job.id)
    listed = json.loads(summary.config_json)
    units = listed["units"]
    assert len(units) == 2 * 2 * 2 == summary.metrics["units"]  # points x seeds x arms
    assert summary.metrics["units_holding"] == sum(u["holds"] for u in units)
    # every listed unit is exactly that unit run alone in this process
    module = experiment_module("E1")
    base = module.Config(**{**json.loads(done.config_json)})
    spec = SweepSpec("E1", grid=(("steps", ("40", "60")),), seeds=2, root_seed=7,
                     controls=True, base=base)
    planned = plan(spec)
    assert [u["stem"] for u in units] == [su.stem for su in planned]
    for entry, su in zip(units, planned):
        alone = run_unit(su.unit)
        assert entry["point"] == {"steps": su.unit.config.steps}
        assert (entry["replicate"], entry["arm"]) == (su.unit.replicate, su.unit.arm)
        assert entry["holds"] == alone.verdict.holds
        for name, value in alone.metrics.items():
            got = entry["metrics"][name]
            assert (got is None and not np.isfinite(value)) or got == value


@pytest.mark.parametrize("request_kw, field", [
    ({"seeds": 0}, "sweep.seeds"),
    ({"seeds": 1001}, "sweep.seeds"),
    ({"axes": (("no_such_field", ("1",)),)}, "sweep.axes[0]"),
    ({"axes": (("steps", ("-5",)),)}, "sweep.axes[0]"),
    ({"axes": (("steps", ()),)}, "sweep.axes[0].values"),
    ({"axes": (("steps", ("x" * 201,)),)}, "sweep.axes[0].values[0]"),
    ({"axes": (("1bad", ("1",)),)}, "sweep.axes[0].field"),
    ({"axes": (("steps", [str(i) for i in range(1, 101)]),
               ("n_starts", [str(i) for i in range(1, 101)])), "seeds": 2}, "sweep"),
    ({"replicate": 3}, "sweep"),
    ({"arm": S.JOB_ARM_CONTROL}, "sweep"),
])
def test_bad_sweeps_are_invalid_argument_naming_the_field(served, request_kw, field):
    kw = dict(request_kw)
    extra = {k: kw.pop(k) for k in ("replicate", "arm") if k in kw}
    with pytest.raises(grpc.RpcError) as err:
        served.stub.CreateJob(sweep_request(**kw, **extra), timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_field(err.value) == field
    assert MAX_UNITS == 10_000


def test_a_cancelled_sweep_keeps_its_stored_units_and_a_one_unit_job_has_no_sweep(served):
    job = served.stub.CreateJob(sweep_request(axes=(("steps", ("300", "400", "500")),),
                                              seeds=40), timeout=30)  # 120 units, seconds
    wait_job(served.stub, job.id, lambda j: j.progress > 0, 240)
    served.stub.CancelJob(jobs_pb2.CancelJobRequest(job_id=job.id), timeout=10)
    final = wait_job(served.stub, job.id, lambda j: j.state == S.JOB_STATE_CANCELLED, 30)
    assert final.sweep.seeds == 40
    stored = list((served.data_dir / "results" / job.id / "sweep" / "units").glob("*.json"))
    assert 1 <= len(stored) < 120
    one = served.stub.CreateJob(jobs_pb2.CreateJobRequest(
        experiment_id="E1", config_json=json.dumps(TINY_E1), quick=True), timeout=30)
    assert not one.HasField("sweep")
