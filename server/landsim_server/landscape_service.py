"""The LandscapeService servicer: thin glue between landsim.v1 messages and the library.

Each method validates its request (arrays through :mod:`landsim_server.arrays`, limits
through :mod:`landsim_server.request_checks`, the rest through :mod:`landsim_server.convert`
and the library's own checks), runs the library function in a thread pool (the Numba
kernels release the GIL; tiny evaluations run inline with serial kernels, see
``ServiceLimits.inline_floats``), and encodes the result.
Between pieces of work it checks whether the call was cancelled or ran out of time, so
an abandoned call stops after at most one block.

Exactness: every result equals the library's on the same input, bit for bit. Evaluate,
Project, Intersect, Section and Descend make one library call per request; StreamEvaluate
evaluates fixed blocks of rows (:mod:`landsim_server.stream_evaluate`, the bulk path),
which equals one call on the whole batch. The bodies of Section are
:mod:`landsim_server.landscape_sections`.

Descend streams each trajectory record as the descent makes it (the descent runs in the
pool and passes records to the call through a queue); a call that is cancelled, runs
out of time or loses its client stops the descent within one step.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Iterator
from concurrent.futures import Executor

import grpc
import numpy as np
from landsim_wire.chunks import ChunkView, chunk_deserializer, serialize_or_pass
from landsim_wire.v1 import landscape_pb2 as pb
from landsim_wire.v1 import landscape_pb2_grpc

from landsim import descent, geometry
from landsim.spec import LandscapeSpec
from landsim.threads import kernel_threads

from . import convert
from .admission import charge_memory
from .arrays import iter_chunks, to_ndarray
from .decoding import add_checked_service
from .descent_guard import DivergenceGuard
from .errors import InvalidArgument, grpc_errors, invalid_argument_from
from .landscape_sections import section_job
from .landscape_store import LandscapeStore
from .request_checks import check_bytes, check_count, check_id, checkpoint, read_points
from .service_limits import ServiceLimits
from .stream_evaluate import BufferPool, stream_evaluate

__all__ = ["ServiceLimits", "LandscapeServicer", "add_landscape_service", "SERVICE_NAME"]

#: Full name of the service (for health and reflection).
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["LandscapeService"].full_name


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
        self._buffers = BufferPool()  # StreamEvaluate gradient blocks

    # ------------------------------------------------------------------ helpers
    async def _call(self, context, fn, *args, **kwargs):
        """Run ``fn`` in the thread pool after a cancellation/deadline check."""
        checkpoint(context)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def _kernel(self, context, floats: int, fn, *args, **kwargs):
        """Run a kernel call: inline (on this thread, serial kernels) when it touches at
        most ``limits.inline_floats`` coordinates, where a thread hop would cost more than
        the work; else in the thread pool."""
        if floats > self.limits.inline_floats:
            return await self._call(context, fn, *args, **kwargs)
        checkpoint(context)
        with kernel_threads(1):
            return fn(*args, **kwargs)

    async def _spec(self, context, landscape_id: str) -> LandscapeSpec:
        check_id(landscape_id, "landscape_id")
        spec = self._store.cached(landscape_id)
        return spec if spec is not None else await self._call(context, self._store.spec,
                                                               landscape_id)

    def _count(self, field: str, n: int) -> None:
        check_count(self.limits, field, n)

    def _bytes(self, field: str, nbytes: int, limit: int, advice: str = "") -> None:
        check_bytes(field, nbytes, limit, advice)

    def _points(self, parent, name: str, field: str, spec: LandscapeSpec) -> np.ndarray:
        return read_points(self.limits, parent, name, field, spec)

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
        check_id(request.id, "id")
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
        check_id(request.id, "id")
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
        charge_memory("points", 2 * out_bytes)  # the arrays and their message
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
        pipeline = stream_evaluate(requests, header, spec, context, self._executor,
                                   self.limits, self._buffers)
        try:
            async for response in pipeline:
                yield response
        finally:
            await pipeline.aclose()

    # ------------------------------------------------------------------ geometry
    @grpc_errors
    async def Project(self, request, context):
        spec = await self._spec(context, request.landscape_id)
        X = self._points(request, "points", "points", spec)
        self._bytes("points", X.shape[0] * spec.dim * 8 + 4096, self.limits.max_message_bytes,
                    "the response would exceed the message limit; send fewer points")
        charge_memory("points", 2 * X.shape[0] * spec.dim * 8)
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
    @grpc_errors
    async def Section(self, request, context):
        spec = await self._spec(context, request.landscape_id)
        fn, args, field = section_job(request, spec, self.limits)
        with invalid_argument_from(field):
            arrays = await self._call(context, fn, *args)
        for name, array in arrays.items():
            for chunk in self._chunks(name, array):
                checkpoint(context)
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
            charge_memory("init.n", init.n * spec.dim * 8)
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
        charge_memory("x0", 3 * B * spec.dim * 8)  # iterate, gradient, momentum
        # The descent runs in the pool and hands each record to this coroutine as it is
        # made (thread -> event loop queue); when the call ends early (cancelled, deadline,
        # client gone) the flag stops the descent at its next step.
        loop = asyncio.get_running_loop()
        records: asyncio.Queue = asyncio.Queue()
        stop = threading.Event()
        guard = DivergenceGuard("x0" if which == "x0" else "init.radius", stop, X0)

        def on_record(step, loss, radius, distance, argmin) -> bool:  # pool thread
            record = pb.DescentRecord(step=int(step), loss=to_ndarray(loss),
                                      radius=to_ndarray(radius),
                                      distance=to_ndarray(distance), argmin=to_ndarray(argmin))
            loop.call_soon_threadsafe(records.put_nowait, record)
            return not stop.is_set()

        future = asyncio.ensure_future(self._call(
            context, descent.descend, spec, X0, config, seed=int(request.seed),
            callback=guard, on_record=on_record))
        future.add_done_callback(lambda _: records.put_nowait(None))  # after every record
        try:
            while (record := await records.get()) is not None:
                yield pb.DescendResponse(record=record)
            traj = await future
        except ValueError as exc:  # the library refused an overflowed iterate
            raise guard.failure(exc) from exc
        finally:
            stop.set()
        if (diverged := guard.error()) is not None:
            raise diverged
        for name in ("final_x", "final_loss", "steps_taken", "reached", "reached_step"):
            for chunk in self._chunks(name, getattr(traj, name)):
                checkpoint(context)
                yield pb.DescendResponse(final=chunk)


def add_landscape_service(server: grpc.aio.Server, store: LandscapeStore, executor: Executor,
                          limits: ServiceLimits | None = None) -> LandscapeServicer:
    """Register a :class:`LandscapeServicer` on ``server`` (with checked request
    deserializers, :mod:`.decoding`) and return it."""
    servicer = LandscapeServicer(store, executor, limits)
    # the bulk path reads point chunks and writes result chunks without protobuf copies
    bulk = grpc.stream_stream_rpc_method_handler(
        servicer.StreamEvaluate,
        request_deserializer=chunk_deserializer(pb.StreamEvaluateRequest, "points"),
        response_serializer=serialize_or_pass)
    add_checked_service(server, landscape_pb2_grpc.add_LandscapeServiceServicer_to_server,
                        servicer, pb.DESCRIPTOR.services_by_name["LandscapeService"],
                        {"StreamEvaluate": bulk})
    return servicer
