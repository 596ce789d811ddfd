"""The LandscapeService servicer: thin glue between landsim.v1 messages and the library.

Each method validates its request (arrays through :mod:`landsim_server.arrays`, the rest
through :mod:`landsim_server.convert` and the library's own checks), runs the library
function in a thread pool (the Numba kernels release the GIL; tiny evaluations run inline,
see ``ServiceLimits.inline_floats``), and encodes the result.
Between pieces of work it checks whether the call was cancelled or ran out of time, so
an abandoned call stops after at most one block.

Exactness: every result equals the library's on the same input, bit for bit. Evaluate,
Project, Intersect, Section and Descend make one library call per request. StreamEvaluate
evaluates rows in fixed blocks of ``max(1, block_floats // D)`` rows (the last block
shorter), i.e. it returns ``geometry.evaluate(spec, X[i:i + rows])`` for each block; that
equals one call on the whole batch, since the kernels give each point the same bits
whatever batch it is in.

StreamEvaluate is the bulk path, built to move points at close to the speed of gRPC
itself: point chunks are read without protobuf copies (:mod:`landsim.wire`), rows
are evaluated straight from the received bytes (:class:`~landsim_server.arrays.RowReader`;
no reassembly, a row split between two chunks is the only copy, so clients should send
chunks of whole rows), blocks are computed in the pool while the next chunks arrive (up
to ``_BLOCKS_IN_FLIGHT`` at once, then the call stops reading: back-pressure), and
result chunks are serialised by hand with one copy.

Descend streams each trajectory record as the descent makes it (the descent runs in the
pool and passes records to the call through a queue); a call that is cancelled, runs
out of time or loses its client stops the descent within one step.
"""

from __future__ import annotations

import asyncio
import functools
import math
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass

import grpc
import numba
import numpy as np

from landsim import descent, geometry, paths
from landsim.spec import LandscapeSpec
from landsim.v1 import landscape_pb2 as pb
from landsim.v1 import landscape_pb2_grpc
from landsim.wire import ChunkView, chunk_deserializer, serialize_or_pass

from . import convert
from .arrays import (
    FLOAT_DTYPES,
    RowReader,
    check_finite,
    from_ndarray,
    iter_chunks,
    iter_encoded_chunks,
    to_ndarray,
)
from .errors import InvalidArgument, ResourceExhausted, grpc_errors, invalid_argument_from
from .landscape_store import LandscapeStore

__all__ = ["ServiceLimits", "LandscapeServicer", "add_landscape_service", "SERVICE_NAME"]

#: Full name of the service (for health and reflection).
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["LandscapeService"].full_name


@dataclass(frozen=True)
class ServiceLimits:
    """Caps that keep one call from taking the server down.

    Parameters
    ----------
    max_points : int
        Most points in one call: the batch B of Evaluate, StreamEvaluate, Project and
        Descend, the samples T of a path and the points of a grid; >= 1.
    max_message_bytes : int
        Largest message sent or received (the gRPC limit); a unary result larger than this
        is RESOURCE_EXHAUSTED (stream it instead); >= 1024.
    max_array_bytes : int
        Largest single array decoded, assembled from a stream or built from a request
        (e.g. the T x D points of a path); >= 1024.
    chunk_bytes : int
        Data per streamed NdArrayChunk; in [1024, max_message_bytes / 2].
    block_floats : int
        StreamEvaluate evaluates ``max(1, block_floats // D)`` rows per block; >= 1.
    max_descent_work : int
        Cap on ``steps * B * D`` of one Descend call; >= 1.
    inline_floats : int
        An Evaluate of at most this many coordinates (B * D) runs on the event-loop
        thread with serial kernels instead of in the pool (a thread hop costs more); >= 0.
    """

    max_points: int = 1 << 20  # a million points
    max_message_bytes: int = 64 << 20  # 64 MiB
    max_array_bytes: int = 1 << 30  # 1 GiB
    chunk_bytes: int = 1 << 20  # 1 MiB
    block_floats: int = 1 << 20  # 8 MiB of float64 points per block
    max_descent_work: int = 10**10  # about a minute of kernel time
    inline_floats: int = 1 << 14  # ~30 us of kernel work: less than a thread hop

    def __post_init__(self) -> None:
        for name, low in (("max_points", 1), ("max_message_bytes", 1024),
                          ("max_array_bytes", 1024), ("block_floats", 1),
                          ("max_descent_work", 1), ("inline_floats", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if not 1024 <= self.chunk_bytes <= self.max_message_bytes // 2:
            raise ValueError(f"chunk_bytes must be in [1024, max_message_bytes / 2 = "
                             f"{self.max_message_bytes // 2}], got {self.chunk_bytes!r}")


def _checkpoint(context: grpc.aio.ServicerContext) -> None:
    """Stop (CancelledError) if the client went away or the deadline passed."""
    remaining = context.time_remaining()
    if context.cancelled() or context.done() or (remaining is not None and remaining <= 0):
        raise asyncio.CancelledError("the call was cancelled or its deadline passed")


def _require(parent, name: str, field: str) -> None:
    if not parent.HasField(name):
        raise InvalidArgument(field, "is required")


class LandscapeServicer(landscape_pb2_grpc.LandscapeServiceServicer):
    """Implements landsim.v1.LandscapeService over a :class:`LandscapeStore`.

    Parameters
    ----------
    store : LandscapeStore
    executor : concurrent.futures.Executor
        Thread pool for the library calls.
    limits : ServiceLimits
    """

    def __init__(self, store: LandscapeStore, executor: Executor,
                 limits: ServiceLimits | None = None) -> None:
        self._store = store
        self._executor = executor
        self.limits = limits or ServiceLimits()
        self._buffers = _BufferPool()  # StreamEvaluate gradient blocks

    # ------------------------------------------------------------------ helpers
    async def _call(self, context, fn, *args, **kwargs):
        """Run ``fn`` in the thread pool after a cancellation/deadline check."""
        _checkpoint(context)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def _kernel(self, context, floats: int, fn, *args, **kwargs):
        """Run a kernel call: inline (on this thread, serial kernels) when it touches at
        most ``limits.inline_floats`` coordinates, where a thread hop would cost more than
        the work; else in the thread pool."""
        if floats > self.limits.inline_floats:
            return await self._call(context, fn, *args, **kwargs)
        _checkpoint(context)
        previous = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            return fn(*args, **kwargs)
        finally:
            numba.set_num_threads(previous)

    async def _spec(self, context, landscape_id: str) -> LandscapeSpec:
        LandscapeStore.check_id(landscape_id, "landscape_id")
        spec = self._store.cached(landscape_id)
        return spec if spec is not None else await self._call(context, self._store.spec,
                                                               landscape_id)

    def _count(self, field: str, n: int) -> None:
        if n > self.limits.max_points:
            raise ResourceExhausted(field, self.limits.max_points, n, "points in one call")

    def _bytes(self, field: str, nbytes: int, limit: int, advice: str = "") -> None:
        if nbytes > limit:
            raise ResourceExhausted(field, limit, nbytes, advice)

    def _array(self, parent, name: str, field: str, ndim: int, dtypes=FLOAT_DTYPES
               ) -> np.ndarray:
        _require(parent, name, field)
        return from_ndarray(getattr(parent, name), field, dtypes, self.limits.max_array_bytes,
                            ndim=ndim, finite=True)

    def _points(self, parent, name: str, field: str, spec: LandscapeSpec) -> np.ndarray:
        X = self._array(parent, name, field, 2)
        if X.shape[1] != spec.dim or X.shape[0] < 1:
            raise InvalidArgument(f"{field}.shape", f"must be (B, D={spec.dim}) with B >= 1, "
                                                    f"got {list(X.shape)}")
        self._count(field, X.shape[0])
        return X

    def _chunks(self, name: str, array, **kwargs) -> Iterator:
        return iter_chunks(name, array, self.limits.chunk_bytes, **kwargs)

    # ------------------------------------------------------------------ landscapes
    @grpc_errors
    async def CreateLandscape(self, request, context):
        which = request.WhichOneof("source")
        extra = None
        if which == "spec":
            spec = await self._call(context, convert.spec_from_proto, request.spec,
                                    self.limits.max_array_bytes)
        elif which == "random":
            spec = await self._call(context, convert.random_from_proto, request.random,
                                    self.limits.max_array_bytes)
            extra = {"random": convert.random_to_meta(request.random)}
        else:
            raise InvalidArgument("source", "give spec or random")
        record, _ = await self._call(context, self._store.create, spec, extra)
        return convert.landscape_to_proto(record)

    @grpc_errors
    async def GetLandscape(self, request, context):
        record = await self._call(context, self._store.get, request.id)
        spec = await self._call(context, self._store.spec, request.id) \
            if request.include_spec else None
        return convert.landscape_to_proto(record, spec)

    @grpc_errors
    async def ListLandscapes(self, request, context):
        records, token = await self._call(context, self._store.list, request.page_size,
                                          request.page_token)
        return pb.ListLandscapesResponse(
            landscapes=[convert.landscape_to_proto(r) for r in records], next_page_token=token)

    @grpc_errors
    async def DeleteLandscape(self, request, context):
        await self._call(context, self._store.delete, request.id)
        return pb.DeleteLandscapeResponse()

    # ------------------------------------------------------------------ evaluation
    @grpc_errors
    async def Evaluate(self, request, context):
        spec = await self._spec(context, request.landscape_id)
        X = self._points(request, "points", "points", spec)
        B, D = X.shape
        out_bytes = B * 16 + (X.nbytes if request.want_gradient else 0) + (
            B * spec.n_wedges * 8 if request.want_wedge_losses else 0)
        self._bytes("points", out_bytes + 4096, self.limits.max_message_bytes,
                    "the response would exceed the message limit; use StreamEvaluate")
        ev = await self._kernel(context, X.size, geometry.evaluate, spec, X,
                                grad=request.want_gradient)
        out = pb.EvaluateResponse(losses=to_ndarray(ev.loss), argmin=to_ndarray(ev.argmin))
        if request.want_gradient:
            out.gradients.CopyFrom(to_ndarray(ev.grad))
        if request.want_wedge_losses:
            out.wedge_losses.CopyFrom(to_ndarray(ev.wedge_losses))
        return out

    @grpc_errors
    async def StreamEvaluate(self, request_iterator, context):
        requests = request_iterator.__aiter__()
        try:
            first = await requests.__anext__()
        except StopAsyncIteration:
            raise InvalidArgument("header", "the stream ended before its header") from None
        if isinstance(first, ChunkView) or first.WhichOneof("item") != "header":
            raise InvalidArgument("header", "the first message must be a header")
        header = first.header
        spec = await self._spec(context, header.landscape_id)

        def check_shape(shape: tuple[int, ...]) -> None:
            B, D = shape
            if D != spec.dim or B < 1:
                raise InvalidArgument("points.shape", f"must be (B, D={spec.dim}) with "
                                                      f"B >= 1, got {[B, D]}")
            self._count("points", B)

        reader = RowReader("points", FLOAT_DTYPES, self.limits.max_array_bytes, ndim=2,
                           on_header=check_shape)
        block = max(1, self.limits.block_floats // spec.dim)
        evaluate = functools.partial(_stream_block, spec, header.want_gradient,
                                     header.want_wedge_losses)
        # gradients of axis landscapes go into recycled buffers (pages touched once)
        pooled = header.want_gradient and spec.kind == "axis"
        loop = asyncio.get_running_loop()
        queued: deque[np.ndarray] = deque()  # received rows not yet handed to the pool
        state = {"queued": 0, "submitted": 0}
        running: deque[asyncio.Future] = deque()  # blocks in the pool, in row order

        def submit(final: bool) -> None:
            """Hand every full block (and on ``final`` the rest) to the pool."""
            while state["queued"] >= block or (final and state["queued"]):
                pieces, need = [], min(block, state["queued"])
                while need:
                    rows = queued.popleft()
                    if len(rows) > need:
                        rows, rest = rows[:need], rows[need:]
                        queued.appendleft(rest)
                    pieces.append(rows)
                    need -= len(rows)
                n = sum(len(p) for p in pieces)
                _checkpoint(context)
                buffer = self._buffers.take(n * spec.dim * reader.dtype.itemsize) \
                    if pooled else None
                running.append(loop.run_in_executor(self._executor, evaluate, pieces,
                                                    state["submitted"], buffer))
                state["submitted"] += n
                state["queued"] -= n

        async def send(block: tuple) -> AsyncIterator[bytes]:
            """A computed block's response chunks, encoded one at a time as they go out
            (one copy each, into memory just freed by the previous one)."""
            start, arrays, buffer = block
            B = reader.shape[0]
            for name, a, tail in arrays:
                row_bytes = a.itemsize * math.prod(tail)
                for message in iter_encoded_chunks(_RESPONSE_CHUNK, name, a,
                                                   self.limits.chunk_bytes,
                                                   offset=start * row_bytes,
                                                   full_shape=(B, *tail)):
                    yield message
            if buffer is not None:
                self._buffers.give(buffer)

        try:
            async for request in requests:
                if isinstance(request, ChunkView):
                    chunk = request
                elif request.WhichOneof("item") == "points":
                    chunk = request.points
                else:
                    raise InvalidArgument("header", "only the first message may be a header")
                for rows in reader.add(chunk):
                    queued.append(rows)
                    state["queued"] += len(rows)
                submit(final=False)
                # send finished blocks; wait for the oldest when too many are in flight
                while running and (running[0].done() or len(running) > _BLOCKS_IN_FLIGHT):
                    async for response in send(await running.popleft()):
                        yield response
            reader.finish()  # InvalidArgument naming the missing bytes
            submit(final=True)
            while running:
                async for response in send(await running.popleft()):
                    yield response
        finally:
            for future in running:
                future.cancel()

    # ------------------------------------------------------------------ geometry
    @grpc_errors
    async def Project(self, request, context):
        spec = await self._spec(context, request.landscape_id)
        X = self._points(request, "points", "points", spec)
        self._bytes("points", X.shape[0] * spec.dim * 8 + 4096, self.limits.max_message_bytes,
                    "the response would exceed the message limit; send fewer points")
        which = request.WhichOneof("target")
        if which == "wedge":
            with invalid_argument_from("wedge"):
                Y = await self._call(context, geometry.project_onto_wedge, spec,
                                     int(request.wedge), X)
        elif which == "intersection":
            with invalid_argument_from("intersection.wedges"):
                Y = await self._call(context, geometry.project_onto_intersection, spec,
                                     [int(k) for k in request.intersection.wedges], X)
        else:
            raise InvalidArgument("target", "give wedge or intersection")
        return pb.ProjectResponse(points=to_ndarray(Y))

    @grpc_errors
    async def Intersect(self, request, context):
        spec = await self._spec(context, request.landscape_id)
        wedges = [int(k) for k in request.wedges]
        with invalid_argument_from("wedges"):
            inter = await self._call(context, geometry.intersection, spec, wedges)
        out = pb.IntersectResponse(short_count=inter.short_count, long_dim=inter.long_dim,
                                   expected_short_count=convert.expected_short_count(
                                       spec, wedges))
        if inter.axes is not None:
            out.short_axes.CopyFrom(to_ndarray(inter.axes))
        radius = request.radius if request.HasField("radius") else 1.0
        if inter.long_dim > 0:
            with invalid_argument_from("radius"):
                point = await self._call(context, geometry.intersection_point, spec, wedges,
                                         radius, seed=int(request.seed))
            out.point.CopyFrom(to_ndarray(point))
        return out

    # ------------------------------------------------------------------ sections
    def _sampling(self, msg, field: str):
        which = msg.WhichOneof("sampling")
        if which == "t":
            t = from_ndarray(msg.t, f"{field}.t", ("float64",), self.limits.max_array_bytes,
                             ndim=1, finite=True)
            n = t.shape[0]
        elif which == "num_t":
            t = n = int(msg.num_t)
        else:
            raise InvalidArgument(field, "give t or num_t")
        self._count(field, n)
        return t, n

    def _section_job(self, request, spec: LandscapeSpec):
        """(function, args, field) computing the section's named result arrays."""
        which = request.WhichOneof("section")
        D = spec.dim
        if which in ("line", "chain", "bezier"):
            msg = getattr(request, which)
            t, n = self._sampling(msg.sampling, f"{which}.sampling")
            self._bytes(f"{which}.sampling", n * D * 8, self.limits.max_array_bytes,
                        "the sampled path's points would be this many bytes")
            if which == "line":
                ends = [self._array(msg, k, f"line.{k}", 1) for k in ("a", "b")]
                build = paths.line
            elif which == "chain":
                ends = [self._array(msg, "points", "chain.points", 2)]
                build = paths.chain
            else:
                ends = [self._array(msg, k, f"bezier.{k}", 1) for k in ("a", "control", "b")]
                build = paths.bezier
            return _path_section, (spec, build, ends, t), which
        if which == "simplex":
            V = self._array(request.simplex, "vertices", "simplex.vertices", 2)
            res = int(request.simplex.resolution)
            if res < 1:
                raise InvalidArgument("simplex.resolution", f"must be >= 1, got {res}")
            n = math.comb(res + V.shape[0] - 1, V.shape[0] - 1)
            self._count("simplex.resolution", n)
            self._bytes("simplex.resolution", n * D * 8, self.limits.max_array_bytes,
                        "the grid's points would be this many bytes")
            return _simplex_section, (spec, V, res), which
        if which == "plane":
            msg = request.plane
            origin, d1, d2 = (self._array(msg, k, f"plane.{k}", 1)
                              for k in ("origin", "d1", "d2"))
            alpha = self._array(msg, "alpha", "plane.alpha", 1) if msg.HasField("alpha") \
                else None
            beta = self._array(msg, "beta", "plane.beta", 1) if msg.HasField("beta") else None
            resolution = int(msg.resolution) or 51
            n = alpha.size * beta.size if alpha is not None and beta is not None \
                else resolution**2
            self._count("plane", n)
            extent = msg.extent if msg.HasField("extent") else 1.0
            return _plane_section, (spec, origin, d1, d2, extent, resolution, alpha, beta,
                                    not msg.raw_directions), which
        if which == "radial":
            msg = request.radial
            origin, d1, d2, radii, angles = (self._array(msg, k, f"radial.{k}", 1) for k in
                                             ("origin", "d1", "d2", "radii", "angles"))
            self._count("radial", radii.size * angles.size)
            return _radial_section, (spec, origin, d1, d2, radii, angles), which
        raise InvalidArgument("section", "give line, chain, bezier, simplex, plane or radial")

    @grpc_errors
    async def Section(self, request, context):
        spec = await self._spec(context, request.landscape_id)
        fn, args, field = self._section_job(request, spec)
        with invalid_argument_from(field):
            arrays = await self._call(context, fn, *args)
        for name, array in arrays.items():
            for chunk in self._chunks(name, array):
                _checkpoint(context)
                yield pb.SectionResponse(chunk=chunk)

    # ------------------------------------------------------------------ descent
    @grpc_errors
    async def Descend(self, request, context):
        spec = await self._spec(context, request.landscape_id)
        which = request.WhichOneof("start")
        if which == "x0":
            X0 = self._points(request, "x0", "x0", spec)
        elif which == "init":
            init = request.init
            self._count("init.n", init.n)
            self._bytes("init.n", init.n * spec.dim * 8, self.limits.max_array_bytes)
            with invalid_argument_from("init"):
                X0 = await self._call(context, descent.init_at_radius, spec.dim, init.radius,
                                      int(init.n), seed=int(init.seed))
        else:
            raise InvalidArgument("start", "give x0 or init")
        config = convert.descent_config_from_proto(request.options)
        B = X0.shape[0]
        self._bytes("options.steps", config.steps * B * spec.dim, self.limits.max_descent_work,
                    "steps * B * D of one Descend call")
        self._bytes("x0", 4 * B * 8 + 4096, self.limits.max_message_bytes,
                    "a trajectory record would exceed the message limit")
        # The descent runs in the pool and hands each record to this coroutine as it is
        # made (thread -> event loop queue); when the call ends early (cancelled, deadline,
        # client gone) the flag stops the descent at its next step.
        loop = asyncio.get_running_loop()
        records: asyncio.Queue = asyncio.Queue()
        stop = threading.Event()

        def on_record(step, loss, radius, distance, argmin) -> bool:  # pool thread
            record = pb.DescentRecord(step=int(step), loss=to_ndarray(loss),
                                      radius=to_ndarray(radius),
                                      distance=to_ndarray(distance), argmin=to_ndarray(argmin))
            loop.call_soon_threadsafe(records.put_nowait, record)
            return not stop.is_set()

        future = asyncio.ensure_future(self._call(
            context, descent.descend, spec, X0, config, seed=int(request.seed),
            callback=lambda step, losses: not stop.is_set(), on_record=on_record))
        future.add_done_callback(lambda _: records.put_nowait(None))  # after every record
        try:
            while (record := await records.get()) is not None:
                yield pb.DescendResponse(record=record)
            traj = await future
        finally:
            stop.set()
        for name in ("final_x", "final_loss", "steps_taken", "reached", "reached_step"):
            for chunk in self._chunks(name, getattr(traj, name)):
                _checkpoint(context)
                yield pb.DescendResponse(final=chunk)


# ---------------------------------------------------------------------- stream blocks
#: StreamEvaluate blocks computing or computed but not yet sent, at most (beyond this the
#: call waits for the oldest before reading more points: back-pressure on the client).
_BLOCKS_IN_FLIGHT = 3
_RESPONSE_CHUNK = pb.StreamEvaluateResponse.DESCRIPTOR.fields_by_name["chunk"].number


class _BufferPool:
    """Byte buffers recycled between StreamEvaluate blocks (event-loop thread only), so
    that gradient blocks land in memory whose pages are already mapped."""

    def __init__(self, keep: int = 2 * _BLOCKS_IN_FLIGHT + 2) -> None:
        self.keep = keep
        self._free: list[np.ndarray] = []

    def take(self, nbytes: int) -> np.ndarray:
        while self._free:
            buffer = self._free.pop()
            if buffer.nbytes >= nbytes:
                return buffer
        return np.empty(nbytes, np.uint8)

    def give(self, buffer: np.ndarray) -> None:
        if len(self._free) < self.keep:
            self._free.append(buffer)


def _check_pieces(pieces: list[np.ndarray], start: int) -> None:
    """InvalidArgument naming the first NaN or inf of the rows ``start:`` in ``pieces``."""
    for p in pieces:
        check_finite("points", p, start)
        start += len(p)


def _stream_block(spec: LandscapeSpec, want_gradient: bool, want_wedge_losses: bool,
                  pieces: list[np.ndarray], start: int, buffer: np.ndarray | None
                  ) -> tuple[int, list[tuple[str, np.ndarray, tuple[int, ...]]],
                             np.ndarray | None]:
    """Evaluate one StreamEvaluate block, rows ``start:start + n`` of the (B, D) points
    given as consecutive pieces; runs in the pool.

    Returns ``(start, [(name, array, shape of one row)], buffer)`` for the call to send.
    The result equals ``geometry.evaluate`` of the block's rows in one call: pieces are
    evaluated one by one (no copy) for axis-aligned frames (the gradient goes into
    ``buffer``, at least n * D * itemsize bytes) and joined first for rotated ones, where
    every call reads all the frames once, so one call per block is faster.
    """
    n, D = sum(len(p) for p in pieces), spec.dim
    if spec.kind == "axis":
        grad = None
        if want_gradient:  # (n, D) in the recycled buffer
            dtype = pieces[0].dtype
            grad = buffer[:n * D * dtype.itemsize].view(dtype).reshape(n, D)
        evs, r = [], 0
        try:  # the axis kernels flag a NaN or inf themselves (no separate pass)
            for p in pieces:
                evs.append(geometry.evaluate(spec, p, grad=want_gradient,
                                             out=None if grad is None else grad[r:r + len(p)]))
                r += len(p)
        except ValueError:
            _check_pieces(pieces, start)  # names the first bad value's row and column
            raise
        loss, argmin, wedges = ((getattr(evs[0], f) if len(evs) == 1 else
                                 np.concatenate([getattr(e, f) for e in evs]))
                                for f in ("loss", "argmin", "wedge_losses"))
    else:
        _check_pieces(pieces, start)
        X = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
        loss, argmin, wedges, grad = geometry.evaluate(spec, X, grad=want_gradient)
    arrays = [("losses", loss, ()), ("argmin", argmin, ())]
    if want_wedge_losses:
        arrays.append(("wedge_losses", wedges, (spec.n_wedges,)))
    if want_gradient:
        arrays.append(("gradients", grad, (D,)))
    return start, arrays, buffer


# ---------------------------------------------------------------------- section bodies
def _path_section(spec, build, ends, t) -> dict[str, np.ndarray]:
    points = build(*ends, t)
    profile = paths.path_barrier(spec, points, t)
    return {"t": profile.t, "loss": profile.loss, "excess": profile.excess,
            "barrier": np.float64(profile.barrier), "argmax": np.int64(profile.argmax)}


def _simplex_section(spec, vertices, resolution) -> dict[str, np.ndarray]:
    weights = paths.simplex_grid(vertices.shape[0], resolution)
    return {"weights": weights,
            "loss": geometry.loss(spec, paths.simplex_points(vertices, weights))}


def _plane_section(spec, origin, d1, d2, extent, resolution, alpha, beta, orthonormalise
                   ) -> dict[str, np.ndarray]:
    s = paths.plane_section(spec, origin, d1, d2, extent, resolution, alpha=alpha, beta=beta,
                            orthonormalise=orthonormalise)
    return {"alpha": s.alpha, "beta": s.beta, "e1": s.e1, "e2": s.e2, "loss": s.loss}


def _radial_section(spec, origin, d1, d2, radii, angles) -> dict[str, np.ndarray]:
    s = paths.radial_section(spec, origin, d1, d2, radii, angles)
    return {"radii": s.radii, "angles": s.angles, "e1": s.e1, "e2": s.e2, "loss": s.loss}


def add_landscape_service(server: grpc.aio.Server, store: LandscapeStore, executor: Executor,
                          limits: ServiceLimits | None = None) -> LandscapeServicer:
    """Register a :class:`LandscapeServicer` on ``server`` and return it."""
    servicer = LandscapeServicer(store, executor, limits)
    capture = _CaptureHandlers()
    landscape_pb2_grpc.add_LandscapeServiceServicer_to_server(servicer, capture)
    handlers = dict(capture.handlers)
    # the bulk path reads point chunks and writes result chunks without protobuf copies
    handlers["StreamEvaluate"] = grpc.stream_stream_rpc_method_handler(
        servicer.StreamEvaluate,
        request_deserializer=chunk_deserializer(pb.StreamEvaluateRequest, "points"),
        response_serializer=serialize_or_pass)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME,
                                                                          handlers),))
    server.add_registered_method_handlers(SERVICE_NAME, handlers)
    return servicer


class _CaptureHandlers:
    """Stands in for a server to collect the generated method handlers."""

    handlers: dict = {}

    def add_generic_rpc_handlers(self, generic_handlers) -> None:
        pass

    def add_registered_method_handlers(self, service: str, handlers: dict) -> None:
        if service != SERVICE_NAME:
            raise RuntimeError(f"unexpected service {service!r}")
        self.handlers = handlers
