"""Robustness of the real server through the real client and the raw generated stubs:
fuzzed Evaluate and CreateLandscape requests fail only with documented codes and leave the
server working, 16 concurrent clients get exact library results, and a cancel of a
running job takes effect at once and frees the worker for the next job."""

from __future__ import annotations

import asyncio
import math
import threading
import time

import grpc
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from landsim_client import Client
from landsim_client.arrays import from_ndarray
from landsim_server.app import ServerOptions, start_server
from landsim_wire.v1 import landscape_pb2 as pb
from landsim_wire.v1 import landscape_pb2_grpc
from landsim_wire.v1.ndarray_pb2 import NdArray

from landsim import geometry
from landsim.client_records import spec_from_record
from landsim.spec import random_landscape

TOKEN = "robustness-token"
METADATA = (("authorization", f"Bearer {TOKEN}"),)
#: The codes the landscape service documents for a bad request.
DOCUMENTED = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
              grpc.StatusCode.RESOURCE_EXHAUSTED}
BASE = {"dim": 12, "n_wedges": 3, "n_short": [2, 3, 4], "eps0": 0.05, "eps1": 0.2,
        "anchor_scale": 0.5, "seed": 1}
CONCURRENT = [
    {"dim": 200, "n_wedges": 4, "n_short": 20, "eps0": 0.01, "eps1": 0.05,
     "anchor_scale": 0.3, "seed": 7},
    {"dim": 200, "n_wedges": 3, "n_short": 10, "kind": "rotated", "eps1": 0.1,
     "union": "soft", "tau": 0.5, "anchor_scale": 0.2, "seed": 8},
]


def library_spec(params: dict):
    p = dict(params)
    return random_landscape(p.pop("dim"), p.pop("n_wedges"), p.pop("n_short"), **p)


class ServerThread:
    """A real server (landsim_server.app) on 127.0.0.1 port 0 in a background loop."""

    def __init__(self, data_dir, **options) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        opts = ServerOptions(data_dir=str(data_dir), port=0,
                             **{"token": TOKEN, "grace_s": 0.5, **options})

        async def go():
            running = await start_server(opts)
            await running.ready
            return running

        # a cold Numba cache compiles the kernels on the first start
        self.running = asyncio.run_coroutine_threadsafe(go(), self.loop).result(900)
        self.target = f"127.0.0.1:{self.running.port}"

    def close(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.running.stop(0.2), self.loop).result(60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = ServerThread(tmp_path_factory.mktemp("robustness-server"), n_workers=1,
                     compute_threads=4)
    yield s
    s.close()


@pytest.fixture(scope="module")
def client(server):
    with Client(server.target, token=TOKEN, timeout=30.0) as c:
        yield c


@pytest.fixture(scope="module")
def base_id(client):
    return client.create_landscape(**BASE)


@pytest.fixture(scope="module")
def stub(server):
    channel = grpc.insecure_channel(server.target)
    yield landscape_pb2_grpc.LandscapeServiceStub(channel)
    channel.close()


# ---------------------------------------------------------------------- strategies
BAD_IDS = st.one_of(
    st.just(""), st.just("0" * 32), st.just("f" * 31), st.just("F" * 32),
    st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),  # unknown hex
    st.text(max_size=40),  # garbage, unicode included
    st.just("../" * 10 + "etc/passwd"), st.just("a" * 10_000))
DTYPES = st.one_of(
    st.sampled_from(["float64", "float32", "int64", "int32", "uint8", "bool", "", "float16",
                     "complex128", "<f8", ">f8", "f8", "object", "U8", "V8", "float64 ",
                     "FLOAT64", "datetime64[ns]"]),
    st.text(max_size=12))
EXTENTS = st.one_of(st.integers(-3, 16), st.sampled_from(
    [2**31 - 1, 2**31, 2**32 + 1, 2**40, 2**62, 2**63 - 1, -(2**63), -(2**31)]))
FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)


FINITE = st.floats(-1e3, 1e3, allow_nan=False)
SPECIAL = st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 3.5e38, 1e-320, -0.0])


@st.composite
def evaluate_requests(draw, good_id: str, dim: int) -> pb.EvaluateRequest:
    lid = good_id if draw(st.integers(0, 3)) else draw(BAD_IDS)
    want = {"want_gradient": draw(st.booleans()), "want_wedge_losses": draw(st.booleans())}
    mode = draw(st.sampled_from(["consistent", "consistent", "random", "empty"]))
    if mode == "empty":  # no points message at all, or an empty one
        if draw(st.booleans()):
            return pb.EvaluateRequest(landscape_id=lid, **want)
        return pb.EvaluateRequest(landscape_id=lid, points=NdArray(), **want)
    if mode == "consistent":  # well formed up to the values (NaN, inf) and the width D
        dtype = draw(st.sampled_from(["float64", "float32"]))
        b = draw(st.integers(0, 5))
        b = b or draw(st.integers(0, 5))  # B = 0 now and then
        d = dim if draw(st.integers(0, 3)) else draw(st.integers(0, 2 * dim))
        special = draw(st.integers(0, 2)) == 0  # NaN, inf, overflow in a third
        values = draw(st.lists(st.one_of(FINITE, FINITE, FINITE, SPECIAL) if special
                               else FINITE, min_size=b * d, max_size=b * d))
        with np.errstate(over="ignore", invalid="ignore"):
            arr = np.asarray(values, np.float64).astype(dtype).reshape(b, d)
        shape = list(arr.shape)
        if draw(st.integers(0, 5)) == 0:  # the same bytes under another shape
            shape = draw(st.lists(EXTENTS, max_size=4))
        data = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        if draw(st.integers(0, 5)) == 0:  # a few bytes too many or too few
            data = data[:max(0, len(data) - draw(st.integers(1, 9)))] if draw(
                st.booleans()) else data + bytes(draw(st.integers(1, 9)))
        points = NdArray(dtype=dtype, shape=shape, data=data)
        return pb.EvaluateRequest(landscape_id=lid, points=points, **want)
    shape = draw(st.lists(EXTENTS, max_size=4))
    data = draw(st.one_of(st.binary(max_size=256),
                          st.integers(0, 64).map(lambda n: b"\xff" * (8 * n))))  # NaN bytes
    points = NdArray(dtype=draw(DTYPES), shape=shape, data=data)
    return pb.EvaluateRequest(landscape_id=lid, points=points, **want)


SMALL = st.integers(-3, 40)
HUGE = st.sampled_from([2**31, 2**40, 2**62, 2**63 - 1, -(2**63), -(2**31)])


def per_wedge(draw, n_wedges: int, good, bad):
    """One value, n_wedges values (mostly good), none, or a list of any length."""
    how = draw(st.integers(0, 5))
    if how <= 1:
        return [draw(good)]
    if how <= 3 and 1 <= n_wedges <= 40:
        return draw(st.lists(st.one_of(good, good, good, bad), min_size=n_wedges,
                             max_size=n_wedges))
    if how == 4:
        return []
    return draw(st.lists(st.one_of(good, bad), max_size=5))


def maybe(draw, good, bad):
    """Mostly a good value, now and then a bad one."""
    return draw(bad) if draw(st.integers(0, 4)) == 0 else draw(good)


@st.composite
def create_requests(draw) -> pb.CreateLandscapeRequest:
    n_wedges = maybe(draw, st.integers(1, 6), st.one_of(SMALL, HUGE))
    n_short = per_wedge(draw, n_wedges, st.integers(1, 8),
                        st.one_of(SMALL, HUGE, st.just(2**12)))
    widths = st.floats(0.0, 2.0)
    bad_widths = st.one_of(SPECIAL, st.sampled_from([-1.0, -1e-9, 1e300]), FLOATS)
    msg = pb.RandomLandscapeParams(
        dim=maybe(draw, st.integers(8, 40), st.one_of(SMALL, HUGE)),
        n_wedges=n_wedges, n_short=n_short,
        kind=maybe(draw, st.sampled_from([0, 1, 2]), st.sampled_from([3, 99, -1])),
        eps0=per_wedge(draw, n_wedges, widths, bad_widths),
        eps1=per_wedge(draw, n_wedges, widths, bad_widths),
        anchor_scale=maybe(draw, st.floats(0.0, 3.0), st.one_of(SPECIAL, FLOATS)),
        union=maybe(draw, st.sampled_from([0, 1, 2]), st.sampled_from([3, -5, 99])),
        seed=draw(st.integers(0, 2**64 - 1)))
    if draw(st.booleans()):
        msg.tau = maybe(draw, st.floats(0.01, 10.0), st.one_of(SPECIAL, FLOATS))
    return pb.CreateLandscapeRequest(random=msg)


# ---------------------------------------------------------------------- 1. fuzz
def call_ok_or_documented(method, request):
    """Send one request: its answer, or None if it failed with a documented code."""
    try:
        return method(request, timeout=20.0, metadata=METADATA)
    except grpc.RpcError as exc:
        assert exc.code() in DOCUMENTED, (
            f"{exc.code()} ({exc.details()!r}) for {type(request).__name__}: "
            f"{str(request)[:2000]}")
        return None


@pytest.mark.parametrize("kind", ["evaluate", "create"])
def test_fuzzed_requests_fail_only_with_documented_codes(server, client, base_id, stub,
                                                         kind):
    spec = library_spec(BASE)
    outcomes = []

    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(request=evaluate_requests(base_id, BASE["dim"]) if kind == "evaluate"
           else create_requests())
    def fuzz(request):
        method = stub.Evaluate if kind == "evaluate" else stub.CreateLandscape
        answer = call_ok_or_documented(method, request)
        outcomes.append(answer is not None)
        if answer is not None and kind == "evaluate":  # a good request: the library's result
            want = geometry.evaluate(spec, from_ndarray(request.points, "points"), grad=True)
            assert np.array_equal(from_ndarray(answer.losses, "losses"), want.loss)
            assert np.array_equal(from_ndarray(answer.argmin, "argmin"), want.argmin)
            if request.want_gradient:
                assert np.array_equal(from_ndarray(answer.gradients, "gradients"), want.grad)
            if request.want_wedge_losses:
                assert np.array_equal(from_ndarray(answer.wedge_losses, "wedge_losses"),
                                      want.wedge_losses)

    fuzz()
    assert len(outcomes) >= 60
    # the server still works: an ordinary evaluate equals the library's
    X = np.random.default_rng(3).normal(size=(6, BASE["dim"]))
    got = client.evaluate(base_id, X, gradient=True, wedge_losses=True)
    want = geometry.evaluate(spec, X, grad=True)
    assert np.array_equal(got.loss, want.loss) and np.array_equal(got.argmin, want.argmin)
    assert np.array_equal(got.wedge_losses, want.wedge_losses)
    assert np.array_equal(got.grad, want.grad)
    assert base_id in [ls.id for ls in client.list_landscapes()]
    assert spec_from_record(client.get_landscape(base_id, include_spec=True).spec) == spec


# ---------------------------------------------------------------------- 2. concurrency
@pytest.mark.parametrize("dim, n_wedges, n_short, code, field", [
    (1, 2**62, [0], grpc.StatusCode.RESOURCE_EXHAUSTED, "random.n_wedges"),
    (5, 2**40, [-3], grpc.StatusCode.RESOURCE_EXHAUSTED, "random.n_wedges"),
    (10, 4097, [1], grpc.StatusCode.RESOURCE_EXHAUSTED, "random.n_wedges"),
    (5, 3, [0], grpc.StatusCode.INVALID_ARGUMENT, "random.n_short"),
    (5, 2, [2, 6], grpc.StatusCode.INVALID_ARGUMENT, "random.n_short[1]"),
])
def test_wedge_counts_are_capped_before_anything_is_built(stub, dim, n_wedges, n_short,
                                                          code, field):
    """Found by the fuzz: a huge n_wedges once built a list of that length (INTERNAL)."""
    request = pb.CreateLandscapeRequest(random=pb.RandomLandscapeParams(
        dim=dim, n_wedges=n_wedges, n_short=n_short))
    with pytest.raises(grpc.RpcError) as info:
        stub.CreateLandscape(request, timeout=20, metadata=METADATA)
    assert info.value.code() == code
    assert info.value.details().startswith(field), info.value.details()


def test_a_huge_bad_value_still_gets_invalid_argument(stub):
    """Found by the fuzz: quoting a 10,000-character id overflowed the error metadata."""
    request = pb.EvaluateRequest(landscape_id="x" * 10_000)
    with pytest.raises(grpc.RpcError) as info:
        stub.Evaluate(request, timeout=20, metadata=METADATA)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = info.value.details()  # the echoed id is cut, and its length named
    assert details.endswith("... (10000 characters)") and len(details) < 200


def test_sixteen_concurrent_clients_get_the_library_results(server):
    with Client(server.target, token=TOKEN) as c:
        ids = [c.create_landscape(**p) for p in CONCURRENT]
    specs = [library_spec(p) for p in CONCURRENT]
    errors: list = []
    counts = [0] * 16
    start = threading.Barrier(16)

    def work(i: int) -> None:
        rng = np.random.default_rng(100 + i)
        try:
            with Client(server.target, token=TOKEN, timeout=60.0) as c:
                start.wait(30)
                for n in range(20):
                    k = (i + n) % 2
                    dtype = np.float32 if (i + n) % 3 == 0 else np.float64
                    X = rng.normal(scale=2.0, size=(3, 200)).astype(dtype)
                    got = c.evaluate(ids[k], X, gradient=True, wedge_losses=True)
                    want = geometry.evaluate(specs[k], X, grad=True)
                    assert np.array_equal(got.loss, want.loss)
                    assert np.array_equal(got.argmin, want.argmin)
                    assert np.array_equal(got.wedge_losses, want.wedge_losses)
                    assert got.grad.dtype == want.grad.dtype
                    assert np.array_equal(got.grad, want.grad)
                    counts[i] += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append((i, repr(exc)))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert counts == [20] * 16


# ---------------------------------------------------------------------- 3. cancel
def test_cancel_of_a_running_job_takes_effect_within_a_second(client):
    job = client.submit("E2", seed=1)  # default config: tens of seconds of work
    running = False
    for event in client.watch(job.id, timeout=120):
        if event.state == "RUNNING":
            running = True
            break
        assert not event.job.final, event.job
    assert running
    time.sleep(0.3)  # well into the run
    assert client.get_job(job.id).state == "RUNNING"
    client.cancel(job.id)
    t0 = time.monotonic()
    while True:
        state = client.get_job(job.id).state
        if state == "CANCELLED" or time.monotonic() - t0 > 1.0:
            break
        time.sleep(0.05)
    assert state == "CANCELLED", f"still {state} {time.monotonic() - t0:.2f} s after cancel"
    # the one worker drops the cancelled run and takes the next job
    follow = client.submit("E1", quick=True, config={"n_starts": 2}, seed=2)
    done = client.wait(follow.id, timeout=120)
    assert done.state == "SUCCEEDED", (done.state, done.error)
    again = client.get_job(job.id)
    assert again.state == "CANCELLED" and again.cancel_requested
    assert not math.isnan(done.progress) and done.progress == 1.0
