"""LandscapeService over a real loopback channel: results equal landsim's exactly, errors
carry codes and details, the server survives bad input, and stored landscapes persist."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import grpc
import numpy as np
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status
from landsim_server.app import ServerOptions, start_server
from landsim_server.arrays import assemble, from_ndarray, iter_chunks, to_ndarray
from landsim_server.convert import spec_to_proto
from landsim_server.landscape_store import landscape_id
from landsim_wire.v1 import landscape_pb2 as pb
from landsim_wire.v1 import landscape_pb2_grpc

from landsim import descent, geometry, paths, sections
from landsim.spec import random_landscape

MESSAGE_CAP = 256 << 10  # small, so that "bigger than one message" stays cheap
MAX_POINTS = 50_000


class ServerThread:
    """A landsim server on 127.0.0.1:0 running in its own event loop thread."""

    def __init__(self, **options) -> None:
        options.setdefault("n_workers", 0)
        options.setdefault("compute_threads", 2)
        self.options = ServerOptions(**options)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def _run(self, coro, timeout=120):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        self.running = self._run(start_server(self.options))

        async def ready():
            await self.running.ready

        self._run(ready(), timeout=900)  # a cold Numba cache compiles the kernels first
        self.address = self.running.address
        return self

    def __exit__(self, *exc) -> None:
        self._run(self.running.stop(1.0))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def _channel(address: str) -> grpc.Channel:
    cap = 64 << 20
    return grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", cap),
                                                   ("grpc.max_send_message_length", cap)])


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("landsim-data")


@pytest.fixture(scope="module")
def server(data_dir):
    with ServerThread(data_dir=str(data_dir), max_message_bytes=MESSAGE_CAP,
                      max_points=MAX_POINTS) as srv:
        yield srv


@pytest.fixture(scope="module")
def stub(server):
    with _channel(server.address) as channel:
        yield landscape_pb2_grpc.LandscapeServiceStub(channel)


def _random(dim=40, n_wedges=3, n_short=5, kind=pb.FRAME_KIND_AXIS, union=pb.UNION_HARD,
            seed=0, **kw) -> pb.RandomLandscapeParams:
    return pb.RandomLandscapeParams(dim=dim, n_wedges=n_wedges, n_short=[n_short], kind=kind,
                                    union=union, seed=seed, **kw)


def _library_spec(params: pb.RandomLandscapeParams):
    kind = {0: "axis", pb.FRAME_KIND_AXIS: "axis", pb.FRAME_KIND_ROTATED: "rotated"}[params.kind]
    union = {0: "hard", pb.UNION_HARD: "hard", pb.UNION_SOFT: "soft"}[params.union]
    return random_landscape(params.dim, params.n_wedges, params.n_short[0], kind=kind,
                            eps0=params.eps0[0] if params.eps0 else 0.0,
                            eps1=params.eps1[0] if params.eps1 else 0.05,
                            anchor_scale=params.anchor_scale, union=union,
                            tau=params.tau if params.HasField("tau") else 1.0,
                            seed=params.seed)


def _create(stub, params):
    landscape = stub.CreateLandscape(pb.CreateLandscapeRequest(random=params))
    return landscape.id, _library_spec(params)


def _status(exc: grpc.RpcError):
    """(code, google.rpc.Status) of a failed call."""
    return exc.code(), rpc_status.from_call(exc)


def _detail(status, cls):
    for any_msg in status.details:
        if any_msg.Is(cls.DESCRIPTOR):
            out = cls()
            any_msg.Unpack(out)
            return out
    raise AssertionError(f"no {cls.__name__} in the details of {status}")


def _fails(fn, *args, **kwargs):
    with pytest.raises(grpc.RpcError) as info:
        fn(*args, **kwargs)
    return _status(info.value)


def _bad_field(fn, *args, **kwargs):
    code, status = _fails(fn, *args, **kwargs)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    return _detail(status, error_details_pb2.BadRequest).field_violations[0].field


# ---------------------------------------------------------------------- landscapes
def test_same_spec_same_id(stub):
    params = _random(seed=11, eps1=[0.1])
    first = stub.CreateLandscape(pb.CreateLandscapeRequest(random=params))
    again = stub.CreateLandscape(pb.CreateLandscapeRequest(random=params))
    spec = _library_spec(params)
    as_spec = stub.CreateLandscape(pb.CreateLandscapeRequest(spec=spec_to_proto(spec)))
    assert first.id == again.id == as_spec.id == landscape_id(spec)
    assert first.created == again.created  # stored once
    other = stub.CreateLandscape(pb.CreateLandscapeRequest(random=_random(seed=12)))
    assert other.id != first.id
    assert (first.dim, first.n_wedges, list(first.n_short)) == (40, 3, [5, 5, 5])
    assert first.random == params


def test_get_returns_the_spec(stub):
    params = _random(kind=pb.FRAME_KIND_ROTATED, anchor_scale=0.3, seed=3)
    lid, spec = _create(stub, params)
    got = stub.GetLandscape(pb.GetLandscapeRequest(id=lid, include_spec=True))
    assert got.kind == pb.FRAME_KIND_ROTATED and got.spec.dim == 40
    for w, wm in zip(spec.wedges, got.spec.wedges):
        assert np.array_equal(from_ndarray(wm.short_frame, "f"), w.short_frame)
        assert np.array_equal(from_ndarray(wm.anchor, "a"), w.anchor)
    assert not stub.GetLandscape(pb.GetLandscapeRequest(id=lid)).HasField("spec")


def test_list_pages_cover_everything_once_in_order(stub):
    for seed in range(20, 25):
        _create(stub, _random(seed=seed))
    ids, created, token = [], [], ""
    while True:
        page = stub.ListLandscapes(pb.ListLandscapesRequest(page_size=2, page_token=token))
        assert len(page.landscapes) <= 2
        ids += [x.id for x in page.landscapes]
        created += [x.created.ToNanoseconds() for x in page.landscapes]
        token = page.next_page_token
        if not token:
            break
    everything = stub.ListLandscapes(pb.ListLandscapesRequest(page_size=1000))
    assert ids == [x.id for x in everything.landscapes]
    assert len(set(ids)) == len(ids) >= 5 and created == sorted(created)
    assert _bad_field(stub.ListLandscapes, pb.ListLandscapesRequest(page_token="x!")) == \
        "page_token"
    assert _bad_field(stub.ListLandscapes, pb.ListLandscapesRequest(page_size=1001)) == \
        "page_size"


def test_delete(stub):
    lid, _ = _create(stub, _random(seed=99))
    stub.DeleteLandscape(pb.DeleteLandscapeRequest(id=lid))
    code, status = _fails(stub.GetLandscape, pb.GetLandscapeRequest(id=lid))
    assert code == grpc.StatusCode.NOT_FOUND
    assert _detail(status, error_details_pb2.ResourceInfo).resource_name == lid
    code, _ = _fails(stub.DeleteLandscape, pb.DeleteLandscapeRequest(id=lid))
    assert code == grpc.StatusCode.NOT_FOUND


# ---------------------------------------------------------------------- evaluation
@pytest.mark.parametrize("kind", [pb.FRAME_KIND_AXIS, pb.FRAME_KIND_ROTATED])
@pytest.mark.parametrize("union", [pb.UNION_HARD, pb.UNION_SOFT])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_evaluate_equals_library(stub, kind, union, dtype):
    params = _random(kind=kind, union=union, anchor_scale=0.2, eps1=[0.2], tau=0.3, seed=5)
    lid, spec = _create(stub, params)
    X = np.random.default_rng(1).normal(0, 0.5, (33, spec.dim)).astype(dtype)
    resp = stub.Evaluate(pb.EvaluateRequest(landscape_id=lid, points=to_ndarray(X),
                                            want_gradient=True, want_wedge_losses=True))
    ev = geometry.evaluate(spec, X)
    grads = from_ndarray(resp.gradients, "g")
    assert grads.dtype == dtype
    for got, want in [(from_ndarray(resp.losses, "l"), ev.loss),
                      (from_ndarray(resp.argmin, "a", ("int64",)), ev.argmin),
                      (from_ndarray(resp.wedge_losses, "w"), ev.wedge_losses), (grads, ev.grad)]:
        assert got.dtype == want.dtype and np.array_equal(got, want)
    bare = stub.Evaluate(pb.EvaluateRequest(landscape_id=lid, points=to_ndarray(X)))
    assert not bare.HasField("gradients") and not bare.HasField("wedge_losses")
    assert np.array_equal(from_ndarray(bare.losses, "l"), ev.loss)


def _stream_evaluate(stub, lid, X, chunk_bytes=50_000, **want):
    def requests():
        yield pb.StreamEvaluateRequest(header=pb.StreamEvaluateHeader(landscape_id=lid, **want))
        for chunk in iter_chunks("points", X, chunk_bytes):
            yield pb.StreamEvaluateRequest(points=chunk)

    return assemble(r.chunk for r in stub.StreamEvaluate(requests()))


@pytest.mark.parametrize("kind", [pb.FRAME_KIND_AXIS, pb.FRAME_KIND_ROTATED])
def test_stream_evaluate_batch_bigger_than_a_message(stub, server, kind):
    lid, spec = _create(stub, _random(dim=64, kind=kind, seed=6, eps1=[0.3]))
    X = np.random.default_rng(2).normal(size=(3000, spec.dim))  # 1.5 MB > 256 KiB cap
    assert X.nbytes > 4 * MESSAGE_CAP
    part = X[:300]  # fits one message; too big to run inline (computed in the pool)
    assert part.size > server.running.options.limits().inline_floats
    resp = stub.Evaluate(pb.EvaluateRequest(landscape_id=lid, points=to_ndarray(part),
                                            want_gradient=True))
    ev = geometry.evaluate(spec, part)
    assert np.array_equal(from_ndarray(resp.losses, "l"), ev.loss)
    assert np.array_equal(from_ndarray(resp.gradients, "g"), ev.grad)
    code, status = _fails(stub.Evaluate, pb.EvaluateRequest(landscape_id=lid,
                                                            points=to_ndarray(X)))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED  # gRPC's own message cap
    out = _stream_evaluate(stub, lid, X, want_gradient=True, want_wedge_losses=True)
    assert set(out) == {"losses", "argmin", "gradients", "wedge_losses"}
    rows = max(1, server.running.options.limits().block_floats // spec.dim)
    blocks = [geometry.evaluate(spec, X[i:i + rows]) for i in range(0, len(X), rows)]
    want = {name: np.concatenate([getattr(b, f) for b in blocks]) for name, f in
            [("losses", "loss"), ("argmin", "argmin"), ("gradients", "grad"),
             ("wedge_losses", "wedge_losses")]}
    for name in want:
        assert np.array_equal(out[name], want[name]), name
    ev = geometry.evaluate(spec, X)  # row-independent kernels: equal to one whole-batch call
    assert np.array_equal(out["losses"], ev.loss) and np.array_equal(out["gradients"], ev.grad)


def test_stream_evaluate_float32_split_rows_and_repeated_calls(stub, server):
    lid, spec = _create(stub, _random(dim=64, seed=16, eps1=[0.3]))
    block = max(1, server.running.options.limits().block_floats // spec.dim)
    for seed, rows, chunk_bytes in [(3, 2 * block + 5, 1000), (4, block // 3, 256 * 7),
                                    (5, block + 1, 10_000)]:  # rows split, whole, split
        X = np.random.default_rng(seed).normal(size=(rows, spec.dim)).astype(np.float32)
        out = _stream_evaluate(stub, lid, X, chunk_bytes, want_gradient=True)
        ev = geometry.evaluate(spec, X)  # axis-aligned: equal to one whole-batch call
        assert out["gradients"].dtype == np.float32
        assert np.array_equal(out["gradients"], ev.grad)
        assert np.array_equal(out["losses"], ev.loss)
        assert np.array_equal(out["argmin"], ev.argmin)


def test_stream_evaluate_errors(stub):
    lid, spec = _create(stub, _random(seed=7))
    X = np.zeros((10, spec.dim))
    X[7, 3] = np.nan

    def call(reqs):
        return list(stub.StreamEvaluate(iter(reqs)))

    header = pb.StreamEvaluateRequest(header=pb.StreamEvaluateHeader(landscape_id=lid))
    chunks = [pb.StreamEvaluateRequest(points=c) for c in iter_chunks("points", X, 64)]
    assert _bad_field(call, chunks) == "header"
    assert _bad_field(call, [header] + chunks) == "points"  # the NaN
    for bad, want_gradient in ((np.nan, False), (-np.inf, True)):  # named with its index
        Y = np.zeros((300, spec.dim))
        Y[211, 3] = bad
        head = pb.StreamEvaluateRequest(header=pb.StreamEvaluateHeader(
            landscape_id=lid, want_gradient=want_gradient))
        code, status = _fails(call, [head] + [pb.StreamEvaluateRequest(points=c)
                                              for c in iter_chunks("points", Y, 1000)])
        violation = _detail(status, error_details_pb2.BadRequest).field_violations[0]
        assert code == grpc.StatusCode.INVALID_ARGUMENT and violation.field == "points"
        assert violation.description == f"must be finite, found {bad} at index [211, 3]"
    assert _bad_field(call, [header] + chunks[:3]) == "points.data"  # stream cut short
    wrong = [pb.StreamEvaluateRequest(points=c) for c in iter_chunks("points", X[:, :5])]
    assert _bad_field(call, [header] + wrong) == "points.shape"


# ---------------------------------------------------------------------- geometry
def test_project_equals_library(stub):
    lid, spec = _create(stub, _random(kind=pb.FRAME_KIND_ROTATED, seed=8, eps1=[0.1]))
    X = np.random.default_rng(3).normal(size=(9, spec.dim))
    onto = stub.Project(pb.ProjectRequest(landscape_id=lid, points=to_ndarray(X), wedge=2))
    assert np.array_equal(from_ndarray(onto.points, "p"), geometry.project_onto_wedge(spec, 2, X))
    inter = stub.Project(pb.ProjectRequest(landscape_id=lid, points=to_ndarray(X),
                                           intersection=pb.WedgeSet(wedges=[0, 2])))
    Y = from_ndarray(inter.points, "p")
    assert np.array_equal(Y, geometry.project_onto_intersection(spec, [0, 2], X))
    assert np.all(geometry.wedge_losses(spec, Y)[:, [0, 2]] <= 1e-20)
    assert _bad_field(stub.Project, pb.ProjectRequest(landscape_id=lid, points=to_ndarray(X),
                                                      wedge=3)) == "wedge"


@pytest.mark.parametrize("kind", [pb.FRAME_KIND_AXIS, pb.FRAME_KIND_ROTATED])
def test_intersect_equals_library(stub, kind):
    lid, spec = _create(stub, _random(dim=50, n_wedges=4, n_short=8, kind=kind, seed=9))
    resp = stub.Intersect(pb.IntersectRequest(landscape_id=lid, wedges=[0, 1, 3], radius=2.5,
                                              seed=4))
    inter = geometry.intersection(spec, [0, 1, 3])
    assert (resp.short_count, resp.long_dim) == (inter.short_count, inter.long_dim)
    point = from_ndarray(resp.point, "p")
    assert np.array_equal(point, geometry.intersection_point(spec, [0, 1, 3], 2.5, seed=4))
    assert np.isclose(np.linalg.norm(point), 2.5)
    if kind == pb.FRAME_KIND_AXIS:
        assert resp.expected_short_count == geometry.expected_short_count(50, 8, 3)
        assert np.array_equal(from_ndarray(resp.short_axes, "a", ("int64",)), inter.axes)
    else:
        assert resp.expected_short_count == 24 and not resp.HasField("short_axes")
    assert _bad_field(stub.Intersect, pb.IntersectRequest(landscape_id=lid, wedges=[1, 1])) \
        == "wedges"


def _section(stub, lid, **kw):
    return assemble(r.chunk for r in stub.Section(pb.SectionRequest(landscape_id=lid, **kw)))


def test_sections_equal_library(stub):
    lid, spec = _create(stub, _random(dim=30, kind=pb.FRAME_KIND_ROTATED, seed=10, eps1=[0.3]))
    rng = np.random.default_rng(4)
    a, b, c = (rng.normal(size=spec.dim) for _ in range(3))
    nd = to_ndarray
    # line with explicit t, chain and Bezier with num_t
    t = np.linspace(0, 1, 17) ** 2
    out = _section(stub, lid, line=pb.LinePath(a=nd(a), b=nd(b),
                                               sampling=pb.PathSampling(t=nd(t))))
    want = paths.path_barrier(spec, paths.line(a, b, t), t)
    assert np.array_equal(out["loss"], want.loss) and out["barrier"] == want.barrier
    assert np.array_equal(out["excess"], want.excess) and out["argmax"] == want.argmax
    P = np.stack([a, c, b])
    out = _section(stub, lid, chain=pb.ChainPath(points=nd(P), sampling=pb.PathSampling(num_t=9)))
    want = paths.path_barrier(spec, paths.chain(P, 9), paths.as_t(9))
    assert np.array_equal(out["loss"], want.loss) and np.array_equal(out["t"], want.t)
    out = _section(stub, lid, bezier=pb.BezierPath(a=nd(a), control=nd(c), b=nd(b),
                                                   sampling=pb.PathSampling(num_t=11)))
    want = paths.path_barrier(spec, paths.bezier(a, c, b, 11), paths.as_t(11))
    assert np.array_equal(out["loss"], want.loss)
    # simplex grid
    out = _section(stub, lid, simplex=pb.SimplexGrid(vertices=nd(P), resolution=6))
    W = paths.simplex_grid(3, 6)
    assert np.array_equal(out["weights"], W)
    assert np.array_equal(out["loss"], geometry.loss(spec, paths.simplex_points(P, W)))
    # plane grid, large enough to need several messages
    out = _section(stub, lid, plane=pb.PlaneGrid(origin=nd(a), d1=nd(b), d2=nd(c), extent=3.0,
                                                 resolution=201))
    want = sections.plane_section(spec, a, b, c, 3.0, 201)
    assert out["loss"].nbytes > MESSAGE_CAP
    assert np.array_equal(out["loss"], want.loss) and np.array_equal(out["e2"], want.e2)
    # radial grid
    radii, angles = np.linspace(0, 4, 5), np.linspace(-np.pi, np.pi, 13)
    out = _section(stub, lid, radial=pb.RadialGrid(origin=nd(a), d1=nd(b), d2=nd(c),
                                                   radii=nd(radii), angles=nd(angles)))
    want = sections.radial_section(spec, a, b, c, radii, angles)
    assert np.array_equal(out["loss"], want.loss)
    # errors name the field
    short_b = pb.LinePath(a=nd(a), b=nd(b[:5]), sampling=pb.PathSampling(num_t=3))
    assert _bad_field(_section, stub, lid, line=short_b) == "line"
    assert _bad_field(_section, stub, lid, line=pb.LinePath(a=nd(a), b=nd(b))) == "line.sampling"
    code, status = _fails(_section, stub, lid, plane=pb.PlaneGrid(
        origin=nd(a), d1=nd(b), d2=nd(c), resolution=1000))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert _detail(status, error_details_pb2.QuotaFailure).violations[0].subject == "plane"


def test_descend_equals_library(stub):
    lid, spec = _create(stub, _random(dim=30, seed=13, eps1=[0.05]))
    x0 = descent.init_at_radius(spec.dim, 3.0, 4, seed=2)
    opts = pb.DescentOptions(optimizer=pb.OPTIMIZER_SGD, lr=0.1, steps=60, noise_std=0.01,
                             record_every=7)
    responses = list(stub.Descend(pb.DescendRequest(
        landscape_id=lid, init=pb.InitAtRadius(radius=3.0, n=4, seed=2), options=opts,
        seed=5)))
    traj = descent.descend(spec, x0, descent.DescentConfig(
        optimizer="sgd", lr=0.1, steps=60, noise_std=0.01, record_every=7), seed=5)
    records = [r.record for r in responses if r.WhichOneof("item") == "record"]
    assert [r.step for r in records] == traj.step.tolist()
    for i, r in enumerate(records):
        assert np.array_equal(from_ndarray(r.loss, "l"), traj.loss[i])
        assert np.array_equal(from_ndarray(r.radius, "r"), traj.radius[i])
        assert np.array_equal(from_ndarray(r.distance, "d"), traj.distance[i])
        assert np.array_equal(from_ndarray(r.argmin, "a", ("int64",)), traj.argmin[i])
    final = assemble(r.final for r in responses if r.WhichOneof("item") == "final")
    for name in ("final_x", "final_loss", "steps_taken", "reached", "reached_step"):
        assert np.array_equal(final[name], getattr(traj, name)), name
    bad = pb.DescendRequest(landscape_id=lid, x0=to_ndarray(x0),
                            options=pb.DescentOptions(lr=-1.0))
    assert _bad_field(lambda r: list(stub.Descend(r)), bad) == "options"
    code, _ = _fails(lambda r: list(stub.Descend(r)), pb.DescendRequest(
        landscape_id=lid, x0=to_ndarray(x0), options=pb.DescentOptions(steps=10**9)))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_descend_streams_records_live_and_cancel_stops_the_descent(stub, monkeypatch):
    lid, spec = _create(stub, _random(dim=30, seed=15))
    steps, evaluations = 2_000_000, [0]  # ~a minute of steps if nothing stopped them
    evaluate = geometry.evaluate

    def counting(*args, **kwargs):  # the server runs in this process: count its steps
        evaluations[0] += 1
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(geometry, "evaluate", counting)
    call = stub.Descend(pb.DescendRequest(
        landscape_id=lid, x0=to_ndarray(np.full((1, spec.dim), 5.0)),
        options=pb.DescentOptions(lr=1e-6, steps=steps, record_every=100)), timeout=120)
    first, second = next(call), next(call)
    assert (first.record.step, second.record.step) == (0, 100)
    assert evaluations[0] < steps and not call.done()  # records arrive while it runs
    call.cancel()
    for _ in range(100):  # the descent stops soon after the cancel
        before = evaluations[0]
        threading.Event().wait(0.1)
        if evaluations[0] == before:
            break
    else:
        pytest.fail("the descent kept running after the call was cancelled")
    assert evaluations[0] < steps // 2


# ---------------------------------------------------------------------- errors
def test_bad_requests_get_codes_and_details_and_server_keeps_serving(stub):
    lid, spec = _create(stub, _random(seed=14))
    X = np.ones((4, spec.dim))

    def evaluate(points, landscape=lid):
        return stub.Evaluate(pb.EvaluateRequest(landscape_id=landscape, points=points))

    assert _bad_field(evaluate, to_ndarray(X.astype(np.int64))) == "points.dtype"
    assert _bad_field(evaluate, to_ndarray(X[:, :7])) == "points.shape"
    assert _bad_field(evaluate, to_ndarray(X[0])) == "points.shape"
    short = to_ndarray(X)
    short.data = short.data[:-8]
    assert _bad_field(evaluate, short) == "points.data"
    nan = X.copy()
    nan[2, 5] = np.nan
    assert _bad_field(evaluate, to_ndarray(nan)) == "points"
    assert _bad_field(lambda: stub.Evaluate(pb.EvaluateRequest(landscape_id=lid))) == "points"
    assert _bad_field(evaluate, to_ndarray(X), "../../etc/passwd") == "landscape_id"
    code, status = _fails(evaluate, to_ndarray(X), "0" * 32)
    assert code == grpc.StatusCode.NOT_FOUND
    assert _detail(status, error_details_pb2.ResourceInfo).resource_name == "0" * 32
    # bad specs name the wedge and the field
    bad = pb.LandscapeSpec(dim=5, wedges=[pb.Wedge(short_axes=to_ndarray(np.array([0, 9])))])
    code, status = _fails(stub.CreateLandscape, pb.CreateLandscapeRequest(spec=bad))
    violation = _detail(status, error_details_pb2.BadRequest).field_violations[0]
    assert violation.field == "spec.wedges[0]" and "[0, 4]" in violation.description
    assert _bad_field(stub.CreateLandscape, pb.CreateLandscapeRequest(
        random=_random(n_short=0))) == "random.n_short"
    # still serving, and the stored landscape is intact
    ok = evaluate(to_ndarray(X))
    assert np.array_equal(from_ndarray(ok.losses, "l"), geometry.loss(spec, X))
    assert stub.GetLandscape(pb.GetLandscapeRequest(id=lid)).id == lid


def test_more_points_than_max_points_in_a_message_that_fits_hit_the_servers_own_cap(tmp_path):
    cap = 1000  # a server of its own, so that max_points + 1 points of D = 2 fit one message
    with ServerThread(data_dir=str(tmp_path), max_message_bytes=MESSAGE_CAP,
                      max_points=cap) as srv, _channel(srv.address) as channel:
        own = landscape_pb2_grpc.LandscapeServiceStub(channel)
        lid, spec = _create(own, pb.RandomLandscapeParams(dim=2, n_wedges=1, n_short=[1]))
        request = pb.EvaluateRequest(landscape_id=lid,
                                     points=to_ndarray(np.zeros((cap + 1, 2), np.float32)))
        code, status = _fails(own.Evaluate, request)
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
        info = _detail(status, error_details_pb2.ErrorInfo)
        assert info.metadata["field"] == "points" and info.metadata["limit"] == str(cap)
        assert _detail(status, error_details_pb2.QuotaFailure).violations[0].subject == "points"
        X = np.ones((cap, 2))  # at the cap it is served
        ok = own.Evaluate(pb.EvaluateRequest(landscape_id=lid, points=to_ndarray(X)))
        assert np.array_equal(from_ndarray(ok.losses, "l"), geometry.loss(spec, X))


# ---------------------------------------------------------------------- the server
def test_health_and_reflection(server):
    with _channel(server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", "landsim.v1.LandscapeService"):
            resp = health.Check(health_pb2.HealthCheckRequest(service=name))
            assert resp.status == health_pb2.HealthCheckResponse.SERVING
        refl = reflection_pb2_grpc.ServerReflectionStub(channel)
        resp = next(refl.ServerReflectionInfo(iter([
            reflection_pb2.ServerReflectionRequest(list_services="")])))
        names = {s.name for s in resp.list_services_response.service}
        assert {"landsim.v1.LandscapeService", "landsim.v1.JobService",
                "grpc.health.v1.Health"} <= names


def test_restart_keeps_landscapes_and_detects_damage(tmp_path):
    params = _random(kind=pb.FRAME_KIND_ROTATED, seed=21)
    X = np.random.default_rng(5).normal(size=(5, 40))
    with ServerThread(data_dir=str(tmp_path)) as srv, _channel(srv.address) as ch:
        stub = landscape_pb2_grpc.LandscapeServiceStub(ch)
        lid, spec = _create(stub, params)
        lid2, _ = _create(stub, _random(seed=22))
    with ServerThread(data_dir=str(tmp_path)) as srv, _channel(srv.address) as ch:
        stub = landscape_pb2_grpc.LandscapeServiceStub(ch)
        listed = [x.id for x in stub.ListLandscapes(pb.ListLandscapesRequest()).landscapes]
        assert listed == [lid, lid2]
        resp = stub.Evaluate(pb.EvaluateRequest(landscape_id=lid, points=to_ndarray(X)))
        assert np.array_equal(from_ndarray(resp.losses, "l"), geometry.loss(spec, X))
    path = tmp_path / "landscapes" / f"{lid}.npz"
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    path.write_bytes(bytes(damaged))
    with ServerThread(data_dir=str(tmp_path)) as srv, _channel(srv.address) as ch:
        stub = landscape_pb2_grpc.LandscapeServiceStub(ch)
        code, status = _fails(stub.Evaluate, pb.EvaluateRequest(landscape_id=lid,
                                                                points=to_ndarray(X)))
        assert code == grpc.StatusCode.DATA_LOSS and "SHA-256" in status.message


def test_auth_and_stream_limit(tmp_path):
    """Calls without a valid token are UNAUTHENTICATED and never take a slot; health and
    reflection need no token and are never limited; an open stream counts against the
    stream cap, not against the short calls."""
    with ServerThread(data_dir=str(tmp_path), token="s3cret", max_concurrent_calls=1,
                      max_queued_calls=0, max_streams=1) as srv:
        with _channel(srv.address) as ch:
            stub = landscape_pb2_grpc.LandscapeServiceStub(ch)
            request = pb.CreateLandscapeRequest(random=_random())
            for metadata in [None, [("authorization", "Bearer wrong")],
                             [("authorization", "s3cret")]]:
                with pytest.raises(grpc.RpcError) as info:
                    stub.CreateLandscape(request, metadata=metadata)
                assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
            refl = reflection_pb2_grpc.ServerReflectionStub(ch)
            listed = list(refl.ServerReflectionInfo(iter([
                reflection_pb2.ServerReflectionRequest(list_services="")])))
            assert "landsim.v1.LandscapeService" in {
                svc.name for svc in listed[0].list_services_response.service}
            auth = [("authorization", "Bearer s3cret")]
            lid = stub.CreateLandscape(request, metadata=auth).id
            gate = threading.Event()

            def held():
                yield pb.StreamEvaluateRequest(header=pb.StreamEvaluateHeader(landscape_id=lid))
                gate.wait(10)

            stream = stub.StreamEvaluate(held(), metadata=auth)
            try:
                for _ in range(100):  # until the server has taken the stream
                    if srv.running.admission.streams == 1:
                        break
                    threading.Event().wait(0.02)
                assert srv.running.admission.streams == 1
                # short calls and health still pass; a second stream is refused at once
                assert stub.GetLandscape(pb.GetLandscapeRequest(id=lid), metadata=auth,
                                         timeout=5).id == lid
                health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())
                assert health.status == health_pb2.HealthCheckResponse.SERVING
                code, status = _fails(lambda: list(stub.Descend(
                    pb.DescendRequest(landscape_id=lid), metadata=auth, timeout=5)))
                assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert _detail(status, error_details_pb2.QuotaFailure).violations[
                    0].subject == "open streams"
                assert _detail(status, error_details_pb2.RetryInfo).retry_delay.seconds == 1
            finally:
                gate.set()
                stream.cancel()
            for _ in range(100):  # the stream slot is free again once the server saw it end
                if srv.running.admission.streams == 0:
                    break
                threading.Event().wait(0.02)
            assert srv.running.admission.streams == 0 and srv.running.admission.calls == 0


# ---------------------------------------------------------------------- TLS
def _self_signed(directory) -> tuple[str, str]:
    """A self-signed certificate for localhost and 127.0.0.1 and its key (PEM files):
    made with the ``cryptography`` package if installed, else with the openssl tool."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        import datetime
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        import shutil
        import subprocess

        if shutil.which("openssl") is None:
            pytest.skip("neither the cryptography package nor the openssl tool is available")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                        "1", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key),
                        "-out", str(cert)], check=True, capture_output=True, timeout=60)
        return str(cert), str(key)
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(private.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName(
                       [x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                   .sign(private, hashes.SHA256()))
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return str(cert), str(key)


def test_tls(tmp_path):
    cert, key = _self_signed(tmp_path)
    with ServerThread(data_dir=str(tmp_path / "data"), tls_cert=cert, tls_key=key) as srv:
        credentials = grpc.ssl_channel_credentials(root_certificates=Path(cert).read_bytes())
        with grpc.secure_channel(srv.address, credentials) as ch:
            stub = landscape_pb2_grpc.LandscapeServiceStub(ch)
            lid, spec = _create(stub, _random(seed=21))
            X = np.random.default_rng(21).normal(size=(4, spec.dim))
            resp = stub.Evaluate(pb.EvaluateRequest(landscape_id=lid, points=to_ndarray(X)),
                                 timeout=30)
            assert np.array_equal(from_ndarray(resp.losses, "l"), geometry.loss(spec, X))
        with _channel(srv.address) as plain:  # no TLS: the handshake never completes
            with pytest.raises(grpc.RpcError) as info:
                landscape_pb2_grpc.LandscapeServiceStub(plain).GetLandscape(
                    pb.GetLandscapeRequest(id=lid), timeout=5)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
