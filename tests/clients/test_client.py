"""The client library against a live in-process server (landsim_server.app on port 0)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time

import grpc
import landsim_client
import numpy as np
import pytest
from landsim_client import (
    AlreadyExists,
    Client,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    RetryPolicy,
    Unauthenticated,
    Unavailable,
)
from landsim_client import client as client_module
from landsim_server.job_store import JobStore

from landsim import descent, geometry, paths, sections
from landsim.client_records import result_from_record, spec_from_record
from landsim.spec import random_landscape
from landsim.units import Unit, experiment_module, run_unit

TOKEN = "test-token"  # the token of the conftest servers
#: E1 in a few tenths of a second.
TINY_E1 = {"n_starts": 2, "dim": 200, "n_short": 20, "steps": 50, "line_points": 11}
AXIS = {"dim": 24, "n_wedges": 3, "n_short": [4, 6, 3], "eps0": 0.05, "eps1": 0.2,
        "anchor_scale": 0.7, "seed": 3}
ROTATED = {"dim": 16, "n_wedges": 2, "n_short": 3, "kind": "rotated", "eps1": 0.1,
           "union": "soft", "tau": 0.5, "seed": 4}


def library_spec(params: dict):
    p = dict(params)
    return random_landscape(p.pop("dim"), p.pop("n_wedges"), p.pop("n_short"), **p)


@pytest.fixture(scope="module")
def client(server):
    with Client(server.target, token=TOKEN, timeout=30.0) as c:
        yield c


@pytest.fixture(scope="module")
def axis_id(client):
    return client.create_landscape(**AXIS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------- landscapes
def test_create_get_list_delete(client, axis_id):
    spec = library_spec(AXIS)
    got = client.get_landscape(axis_id, include_spec=True)
    # the server drew the same landscape as the library (the client returns a SpecRecord
    # of arrays since the light client: landsim.client_records makes the LandscapeSpec)
    assert spec_from_record(got.spec) == spec and got.spec.to_json() == spec.to_json()
    assert (got.dim, got.n_wedges, got.kind, got.n_short) == (24, 3, "axis", (4, 6, 3))
    assert got.random["seed"] == 3 and got.random["n_short"] == [4, 6, 3]
    assert client.health() == "SERVING"
    assert client.create_landscape(spec) == axis_id  # content-derived id
    other = client.create_landscape(spec.to_dict() | {"tau": 2.0})
    ids = [ls.id for ls in client.list_landscapes(page_size=1)]  # one page per landscape
    assert axis_id in ids and other in ids and len(ids) == len(set(ids))
    client.delete_landscape(other)
    with pytest.raises(NotFound) as info:
        client.get_landscape(other)
    assert info.value.resource == ("landsim.v1.Landscape", other)
    assert other not in [ls.id for ls in client.list_landscapes()]


# ---------------------------------------------------------------------- evaluation
@pytest.mark.parametrize("params", [AXIS, ROTATED], ids=["axis", "rotated-soft"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_evaluate_equals_library_exactly(client, params, dtype):
    lid = client.create_landscape(**params)
    spec = library_spec(params)
    X = np.random.default_rng(0).normal(0.0, 1.5, (64, spec.dim)).astype(dtype)
    ev = client.evaluate(lid, X, gradient=True, wedge_losses=True)
    ref = geometry.evaluate(spec, X, grad=True)
    for name in ("loss", "argmin", "wedge_losses", "grad"):
        got, want = getattr(ev, name), getattr(ref, name)
        assert got.dtype == want.dtype and np.array_equal(got, want), name
    plain = client.evaluate(lid, X)
    assert plain.grad is None and plain.wedge_losses is None
    assert np.array_equal(plain.loss, ref.loss)
    one = client.evaluate(lid, X[5], gradient=True)  # a single (D,) point
    ref_one = geometry.evaluate(spec, X[5], grad=True)
    assert one.loss.shape == () and one.loss == ref_one.loss == ref.loss[5]
    assert np.array_equal(one.grad, ref_one.grad) and np.array_equal(one.grad, ref.grad[5])


def test_stream_evaluate_large_batch_in_many_chunks(client, axis_id):
    spec = library_spec(AXIS)
    X = np.random.default_rng(1).normal(0.0, 2.0, (60_000, spec.dim))  # 11.5 MB
    ev = client.stream_evaluate(axis_id, X, gradient=True, wedge_losses=True,
                                chunk_bytes=256 << 10)  # 45 request chunks
    ref = geometry.evaluate(spec, X, grad=True)
    assert np.array_equal(ev.loss, ref.loss) and np.array_equal(ev.argmin, ref.argmin)
    assert np.array_equal(ev.grad, ref.grad)
    assert np.array_equal(ev.wedge_losses, ref.wedge_losses)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stream_evaluate_with_rows_split_between_chunks(client, dtype):
    # 1024-byte chunks cut 1200- or 2400-byte rows: the server joins the pieces; default
    # chunks are whole rows. Both equal the library bit for bit.
    params = {"dim": 300, "n_wedges": 4, "n_short": 20, "eps1": 0.1, "seed": 5}
    lid = client.create_landscape(**params)
    spec = library_spec(params)
    X = np.random.default_rng(4).normal(size=(50, 300)).astype(dtype)
    ref = geometry.evaluate(spec, X, grad=True)
    for chunk_bytes in (1024, None):
        ev = client.stream_evaluate(lid, X, gradient=True, chunk_bytes=chunk_bytes)
        assert ev.grad.dtype == dtype
        assert np.array_equal(ev.loss, ref.loss) and np.array_equal(ev.grad, ref.grad)


def test_encoded_request_chunks_parse_as_the_plain_ones():
    from landsim_wire.arrays import iter_chunks, iter_encoded_chunks
    from landsim_wire.v1 import landscape_pb2 as pb

    field = pb.StreamEvaluateRequest.DESCRIPTOR.fields_by_name["points"].number
    for a in (np.arange(35.0).reshape(5, 7), np.zeros((0, 3)), np.ones(3, np.float32)):
        plain = [pb.StreamEvaluateRequest(points=c) for c in iter_chunks("points", a, 48)]
        encoded = [pb.StreamEvaluateRequest.FromString(b)
                   for b in iter_encoded_chunks(field, "points", a, 48)]
        assert encoded == plain


def test_evaluate_switches_to_the_stream_above_the_message_size(server, axis_id):
    spec = library_spec(AXIS)
    X = np.random.default_rng(2).normal(size=(8_000, spec.dim))  # 1.5 MB > 1 MiB / 2
    with Client(server.target, token=TOKEN, max_message_bytes=1 << 20,
                chunk_bytes=64 << 10) as small:
        ev = small.evaluate(axis_id, X, gradient=True)
    ref = geometry.evaluate(spec, X, grad=True)
    assert np.array_equal(ev.loss, ref.loss) and np.array_equal(ev.grad, ref.grad)


def test_project_intersect_section_descend_equal_library(client):
    shared = dict(AXIS, anchor_scale=0.0)
    lid = client.create_landscape(**shared)
    spec = library_spec(shared)
    X = np.random.default_rng(3).normal(size=(10, spec.dim))
    assert np.array_equal(client.project(lid, X, wedge=1),
                          geometry.project_onto_wedge(spec, 1, X))
    assert np.array_equal(client.project(lid, X, intersection=[0, 2]),
                          geometry.project_onto_intersection(spec, [0, 2], X))
    inter = client.intersect(lid, [0, 1], radius=2.0, seed=5)
    ref = geometry.intersection(spec, [0, 1])
    assert (inter.short_count, inter.long_dim) == (ref.short_count, ref.long_dim)
    assert np.array_equal(inter.short_axes, ref.axes)
    assert np.array_equal(inter.point, geometry.intersection_point(spec, [0, 1], 2.0, seed=5))

    a, b = X[0], X[1]
    line = client.section(lid, "line", a=a, b=b, num_t=33)
    prof = paths.path_barrier(spec, paths.line(a, b, 33), 33)
    assert np.array_equal(line["loss"], prof.loss) and np.array_equal(line["t"], prof.t)
    assert float(line["barrier"]) == prof.barrier and int(line["argmax"]) == prof.argmax
    plane = client.section(lid, "plane", origin=a, d1=X[2], d2=X[3], extent=2.0,
                           resolution=9)
    ref_plane = sections.plane_section(spec, a, X[2], X[3], 2.0, 9)
    assert plane["loss"].shape == (9, 9) and np.array_equal(plane["loss"], ref_plane.loss)
    radial = client.section(lid, "radial", origin=a, d1=X[2], d2=X[3],
                            radii=np.linspace(0, 1, 5), angles=np.linspace(0, 3, 7))
    assert radial["loss"].shape == (5, 7)
    with pytest.raises(TypeError, match="missing"):
        client.section(lid, "plane", origin=a, d1=X[2])

    run = client.descend(lid, X[:4], lr=0.1, steps=30, record_every=10, seed=1)
    records = list(run)
    traj = descent.descend(spec, X[:4], descent.DescentConfig(lr=0.1, steps=30,
                                                              record_every=10), seed=1)
    assert [r.step for r in records] == list(traj.step)
    assert all(np.array_equal(r.loss, traj.loss[i]) for i, r in enumerate(records))
    assert np.array_equal(run.final["final_x"], traj.final_x)
    assert np.array_equal(run.final["reached"], traj.reached)
    assert len(run.collect()[0]) == len(records)  # replayed, not re-read
    assert run.final.keys() >= {"final_loss", "steps_taken", "reached_step"}


# ---------------------------------------------------------------------- errors
def test_errors_map_to_typed_exceptions_with_details(client, server, axis_id):
    with pytest.raises(InvalidArgument) as info:
        client.evaluate(axis_id, np.zeros((3, 5)))
    err = info.value
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT and err.field == "points.shape"
    assert "D=24" in err.field_violations[0][1] and err.method == "Evaluate"
    with pytest.raises(InvalidArgument) as info:
        client.evaluate(axis_id, np.full((2, 24), np.nan))
    assert info.value.field == "points"
    with pytest.raises(NotFound) as info:
        client.evaluate("0" * 32, np.zeros((1, 24)))
    assert info.value.resource == ("landsim.v1.Landscape", "0" * 32)
    with pytest.raises(ResourceExhausted) as info:  # a 3000 x 3000 grid > max_points
        client.section(axis_id, "plane", origin=np.zeros(24), d1=np.eye(24)[0],
                       d2=np.eye(24)[1], resolution=3000)
    reason, domain, meta = info.value.error_info
    assert reason == "LIMIT_EXCEEDED" and meta["got"] == str(3000**2)
    assert info.value.quota_violations[0][0] == "plane"
    with pytest.raises(InvalidArgument) as info:
        client.submit("E9")
    assert info.value.field == "experiment_id"
    with pytest.raises(InvalidArgument) as info:
        client.submit("E1", config={"n_starts": -1}, quick=True)
    assert info.value.field == "config.n_starts"
    with Client(server.target) as anonymous:
        with pytest.raises(Unauthenticated, match="bearer token"):
            anonymous.get_landscape(axis_id)
    with Client(server.target, token="wrong") as wrong:
        with pytest.raises(Unauthenticated):
            list(wrong.jobs())
    assert isinstance(err, landsim_client.LandsimError) and "points.shape" in str(err)


def test_retries_are_bounded_and_only_for_idempotent_calls(monkeypatch):
    sleeps = []
    monkeypatch.setattr(client_module.time, "sleep", sleeps.append)
    policy = RetryPolicy(max_attempts=4, initial_backoff_s=0.2, max_backoff_s=0.3)
    with Client(f"127.0.0.1:{free_port()}", timeout=2.0, retry=policy) as dead:
        with pytest.raises(Unavailable):
            dead.get_landscape("0" * 32)
        assert len(sleeps) == 3 and all(0.1 <= s <= 0.3 for s in sleeps)
        sleeps.clear()
        with pytest.raises(Unavailable):
            dead.delete_landscape("0" * 32)  # not idempotent: one attempt
        with pytest.raises(Unavailable):
            dead.delete_job("0" * 32)
        assert sleeps == []
        with pytest.raises(Unavailable):
            dead.submit("E1")  # carries a request_id: retried
        assert len(sleeps) == 3


def test_retry_while_the_server_is_briefly_down_and_watch_reconnects(make_server):
    """A server without workers queues a job; it is restarted (with a worker) on the same
    port while a watch is open and while an idempotent call is retrying."""
    port = free_port()
    srv = make_server(n_workers=0)
    srv.start(port)
    policy = RetryPolicy(max_attempts=40, initial_backoff_s=0.05, max_backoff_s=0.25)
    with Client(srv.target, token=TOKEN, retry=policy, timeout=10.0) as c:
        job = c.submit("E1", config=TINY_E1, quick=True)
        events, errors = [], []

        def watch():
            try:
                events.extend(c.watch(job.id, reconnect_s=30.0))
            except Exception as exc:  # reported below
                errors.append(exc)

        watcher = threading.Thread(target=watch)
        watcher.start()
        time.sleep(0.3)
        srv.stop()
        restart = threading.Timer(1.0, srv.start, kwargs={"port": port, "n_workers": 1})
        restart.start()
        t0 = time.monotonic()
        again = c.get_job(job.id)  # UNAVAILABLE for about a second, then retried
        assert again.id == job.id and time.monotonic() - t0 > 0.5
        restart.join()
        watcher.join(60)
        assert not watcher.is_alive() and errors == []
        states = [e.state for e in events]
        assert states[0] == "QUEUED" and states[-1] == "SUCCEEDED"
        # a reconnect starts again from the current state, so a job that ran during the
        # gap may skip RUNNING; what holds is that the states never go backwards
        order = {"QUEUED": 0, "RUNNING": 1, "SUCCEEDED": 2}
        assert [order[x] for x in states] == sorted(order[x] for x in states)
        assert c.get_job(job.id).state == "SUCCEEDED"


# ---------------------------------------------------------------------- jobs
def test_submit_with_the_same_request_id_returns_the_same_job(client):
    first = client.submit("E1", config=TINY_E1, quick=True, seed=11, request_id="same-req")
    again = client.submit("E1", config=TINY_E1, quick=True, seed=11, request_id="same-req")
    assert again.id == first.id and again.request_id == "same-req"
    with pytest.raises(AlreadyExists) as info:
        client.submit("E1", config=TINY_E1, quick=True, seed=12, request_id="same-req")
    assert info.value.resource[1] == "same-req"
    fresh = client.submit("E1", config=TINY_E1, quick=True, seed=11)
    assert fresh.id != first.id and len(fresh.request_id) == 32  # auto uuid
    client.wait(first.id, timeout=60)
    client.wait(fresh.id, timeout=60)


def test_watch_to_completion_and_result_equals_the_stored_result(client, server):
    job = client.submit("E1", config=TINY_E1, quick=True, seed=5)
    assert job.state == "QUEUED" and job.config["dim"] == 200
    events = list(client.watch(job.id, timeout=60))
    states = [e.state for e in events]
    assert states[0] in ("QUEUED", "RUNNING") and states[-1] == "SUCCEEDED"
    progress = [e.progress for e in events if e.state == "RUNNING"]
    assert progress == sorted(progress) and events[-1].progress == 1.0
    assert events[-1].job.finished is not None
    assert client.get_job(job.id).state == "SUCCEEDED"
    assert job.id in [j.id for j in client.jobs("SUCCEEDED")]
    assert job.id not in [j.id for j in client.jobs(["QUEUED", "RUNNING"])]

    got = client.result(job.id, chunk_bytes=1024)  # many chunks per series
    assert isinstance(got, landsim_client.JobResult)
    store = JobStore(server.data_dir)
    try:
        want = store.result(job.id)
    finally:
        store.close()
    assert list(got.series) == list(want.series)
    for name, a in want.series.items():
        b = got.series[name]
        assert b.dtype == a.dtype and b.shape == a.shape and np.array_equal(b, a, equal_nan=True)
    assert got.metrics.keys() == want.metrics.keys()
    assert all(math.isnan(v) and math.isnan(got.metrics[k]) or got.metrics[k] == v
               for k, v in want.metrics.items())
    assert (got.experiment, got.kind, got.seed, got.version, got.machine) == (
        want.experiment, want.kind, want.seed, want.version, want.machine)
    assert (got.arm, got.replicate, got.stem) == (want.arm, want.replicate,
                                                  "E1-toy-claim-seed5-r0")
    assert got.config == want.config and got.timings == want.timings
    # a JobResult record since the light client; as a landsim Result its verdict is equal
    assert result_from_record(got).verdict == want.verdict
    assert got.verdict.holds == want.verdict.holds and got.verdict.rule == want.verdict.rule


def test_submit_a_replicate_of_the_control_arm(client):
    job = client.submit("E1", config=TINY_E1, quick=True, seed=7, replicate=2, arm="control",
                        request_id="control-r2")
    assert (job.replicate, job.arm) == (2, "control")
    assert client.submit("E1", config=TINY_E1, quick=True, seed=7, replicate=2, arm="control",
                         request_id="control-r2").id == job.id
    with pytest.raises(AlreadyExists):
        client.submit("E1", config=TINY_E1, quick=True, seed=7, replicate=3, arm="control",
                      request_id="control-r2")
    assert client.wait(job.id, timeout=60).state == "SUCCEEDED"
    got = client.result(job.id)
    assert (got.arm, got.replicate, got.seed, got.stem) == (
        "control", 2, 7, "E1-toy-control-seed7-r2")
    config = dataclasses.replace(experiment_module("E1").quick_config(), **TINY_E1)
    want = run_unit(Unit("E1", "toy", config, seed=7, replicate=2, arm="control"))
    assert got.config == want.config and result_from_record(got).verdict == want.verdict
    assert all(math.isnan(v) and math.isnan(got.metrics[k]) or got.metrics[k] == v
               for k, v in want.metrics.items()) and got.metrics.keys() == want.metrics.keys()
    for name, a in want.series.items():
        assert np.array_equal(got.series[name], a, equal_nan=True)
    with pytest.raises(InvalidArgument) as info:
        client.submit("E1", quick=True, replicate=10000)
    assert info.value.field_violations[0][0] == "replicate"
    assert "[0, 9999], got 10000" in info.value.message
    with pytest.raises(ValueError, match="arm must be one of"):
        client.submit("E1", arm="treatment")


def test_cancel_delete_and_preconditions(client):
    done = client.submit("E1", config=TINY_E1, quick=True, seed=21)
    blocker = client.submit("E1", config=dict(TINY_E1, steps=100), quick=True, seed=22)
    queued = client.submit("E1", config=TINY_E1, quick=True, seed=23)
    cancelled = client.cancel(queued.id)
    assert cancelled.state == "CANCELLED" and cancelled.cancel_requested
    assert client.cancel(queued.id).state == "CANCELLED"  # unchanged, so retry-safe
    with pytest.raises(FailedPrecondition) as info:
        client.result(queued.id)
    assert info.value.precondition_violations[0][0] == "JOB_STATE"
    assert client.wait(done.id, timeout=60).state == "SUCCEEDED"
    with pytest.raises(FailedPrecondition):
        client.cancel(done.id)
    client.delete_job(queued.id)
    with pytest.raises(NotFound):
        client.get_job(queued.id)
    client.wait(blocker.id, timeout=60)


def test_client_arguments_are_checked_locally():
    with pytest.raises(ValueError, match="timeout"):
        Client("127.0.0.1:1", timeout=0)
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with Client("127.0.0.1:1") as c:
        with pytest.raises(ValueError, match="exactly one"):
            c.project("x", np.zeros((1, 2)))
        with pytest.raises(ValueError, match="state"):
            list(c.jobs("DONE"))
        with pytest.raises(ValueError, match="float32 or float64"):
            c.evaluate("x", np.array([["a"]]))


# ---------------------------------------------------------------------- imports
def test_client_imports_neither_numba_nor_torch(server, tmp_path):
    script = textwrap.dedent(f"""
        import io, sys
        import landsim_client
        assert "numba" not in sys.modules and "torch" not in sys.modules
        assert "scipy" not in sys.modules and "landsim" not in sys.modules
        import numpy as np
        from landsim_client import Client
        from landsim_client.cli import main
        c = Client({server.target!r}, token={TOKEN!r})
        lid = c.create_landscape(dim=12, n_wedges=2, n_short=3, seed=0)
        ev = c.evaluate(lid, np.ones((4, 12)), gradient=True)
        c.stream_evaluate(lid, np.ones((4, 12)))
        c.section(lid, "line", a=np.zeros(12), b=np.ones(12))
        job = c.submit("E1", config={json.dumps(TINY_E1)}, quick=True)
        c.wait(job.id, timeout=60)
        result = c.result(job.id)
        sys.stdout = io.StringIO()
        code = main(["--target", {server.target!r}, "--token", {TOKEN!r}, "result", job.id,
                     "--plot", {str(tmp_path / "r.png")!r}])
        sys.stdout = sys.__stdout__
        assert code == 0, code
        bad = sorted(m for m in sys.modules if m.split(".")[0] in
                     ("numba", "torch", "landsim_server", "llvmlite", "scipy", "landsim"))
        print("BAD", bad)
    """)
    env = dict(os.environ, NUMBA_DISABLE_JIT="0")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert "BAD []" in out.stdout, out.stdout


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_tls_with_a_self_signed_root_certificate(make_server, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True,
                   timeout=60)
    srv = make_server(n_workers=0, tls_cert=str(cert), tls_key=str(key))
    srv.start()
    with Client(srv.target, token=TOKEN, tls=cert) as c:
        lid = c.create_landscape(dim=6, n_wedges=1, n_short=2, seed=0)
        assert [ls.id for ls in c.list_landscapes()] == [lid]
    with Client(srv.target, token=TOKEN, timeout=3.0,
                retry=RetryPolicy(max_attempts=1)) as plain:
        with pytest.raises(Unavailable):  # plaintext against a TLS port
            plain.get_landscape(lid)


class _Refusal(grpc.RpcError):
    """A RESOURCE_EXHAUSTED as the server sends it (status details in the trailer)."""

    def __init__(self, retry_after_s):
        from landsim_server.errors import ResourceExhausted
        self._status = ResourceExhausted("concurrent calls", 64, 65,
                                         retry_after_s=retry_after_s).to_status()

    def code(self):
        return self._status.code

    def details(self):
        return self._status.details

    def trailing_metadata(self):
        return self._status.trailing_metadata


def test_a_busy_refusal_with_retry_info_is_retried_after_its_delay(monkeypatch):
    sleeps = []
    monkeypatch.setattr(client_module.time, "sleep", sleeps.append)
    policy = RetryPolicy(max_attempts=4, initial_backoff_s=0.01, max_backoff_s=2.0)
    with Client(f"127.0.0.1:{free_port()}", retry=policy) as client:
        outcomes = [_Refusal(0.5), _Refusal(0.5), "answer"]

        def call(deadline):
            outcome = outcomes.pop(0)
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

        assert client._call("Evaluate", call, idempotent=True) == "answer"
        assert len(sleeps) == 2 and all(s >= 0.5 for s in sleeps)
        sleeps.clear()
        # without RetryInfo (the request can never fit) it is raised at once
        with pytest.raises(landsim_client.LandsimError) as info:
            client._call("Evaluate", lambda d: (_ for _ in ()).throw(_Refusal(None)),
                         idempotent=True)
        assert info.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED and sleeps == []
        assert info.value.retry_after_s is None
        # nor is a call that is not idempotent retried
        with pytest.raises(landsim_client.LandsimError):
            client._call("Descend", lambda d: (_ for _ in ()).throw(_Refusal(0.5)),
                         idempotent=False)
        assert sleeps == []
