"""The StreamEvaluate pipeline: the bulk path of the landscape service.

Built to move points at close to the speed of gRPC itself: point chunks are read without
protobuf copies (:mod:`landsim_wire.chunks`), rows are evaluated straight from the
received bytes (:class:`~landsim_server.arrays.RowReader`; no reassembly, a row split
between two chunks is the only copy, so clients should send chunks of whole rows),
blocks are computed in the pool while the next chunks arrive (up to
:data:`BLOCKS_IN_FLIGHT` at once, then the call stops reading: back-pressure), and result
chunks are serialised by hand with one copy.

Exactness: rows are evaluated in fixed blocks of ``max(1, block_floats // D)`` rows (the
last block shorter), i.e. the call returns ``geometry.evaluate(spec, X[i:i + rows])`` for
each block; that equals one call on the whole batch, since the kernels give each point
the same bits whatever batch it is in.
"""

from __future__ import annotations

import asyncio
import functools
import math
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import Executor

import grpc
import numpy as np
from landsim_wire.chunks import ChunkView
from landsim_wire.v1 import landscape_pb2 as pb

from landsim import geometry
from landsim.spec import LandscapeSpec

from .admission import charge_memory
from .arrays import FLOAT_DTYPES, RowReader, check_finite, iter_encoded_chunks
from .errors import InvalidArgument
from .request_checks import check_count, checkpoint
from .service_limits import ServiceLimits

__all__ = ["BLOCKS_IN_FLIGHT", "BufferPool", "stream_evaluate", "evaluate_block"]

#: StreamEvaluate blocks computing or computed but not yet sent, at most (beyond this the
#: call waits for the oldest before reading more points: back-pressure on the client).
BLOCKS_IN_FLIGHT = 3
_RESPONSE_CHUNK = pb.StreamEvaluateResponse.DESCRIPTOR.fields_by_name["chunk"].number

Block = tuple[int, list[tuple[str, np.ndarray, tuple[int, ...]]], np.ndarray | None]


class BufferPool:
    """Byte buffers recycled between StreamEvaluate blocks (event-loop thread only), so
    that gradient blocks land in memory whose pages are already mapped.

    Parameters
    ----------
    keep : int
        Most free buffers kept.
    """

    def __init__(self, keep: int = 2 * BLOCKS_IN_FLIGHT + 2) -> None:
        self.keep = keep
        self._free: list[np.ndarray] = []

    def take(self, nbytes: int) -> np.ndarray:
        """A uint8 buffer of at least ``nbytes`` bytes (a kept one when one is that big)."""
        while self._free:
            buffer = self._free.pop()
            if buffer.nbytes >= nbytes:
                return buffer
        return np.empty(nbytes, np.uint8)

    def give(self, buffer: np.ndarray) -> None:
        """Return ``buffer`` for reuse (dropped when ``keep`` are already free)."""
        if len(self._free) < self.keep:
            self._free.append(buffer)


def _check_pieces(pieces: list[np.ndarray], start: int) -> None:
    """InvalidArgument naming the first NaN or inf of the rows ``start:`` in ``pieces``."""
    for p in pieces:
        check_finite("points", p, start)
        start += len(p)


def evaluate_block(spec: LandscapeSpec, want_gradient: bool, want_wedge_losses: bool,
                   pieces: list[np.ndarray], start: int, buffer: np.ndarray | None) -> Block:
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


async def stream_evaluate(requests: AsyncIterator, header, spec: LandscapeSpec,
                          context: grpc.aio.ServicerContext, executor: Executor,
                          limits: ServiceLimits, buffers: BufferPool) -> AsyncIterator[bytes]:
    """The response messages (serialised) of one StreamEvaluate call after its header.

    Parameters
    ----------
    requests : async iterator
        The rest of the request stream: ``ChunkView`` s of points (or, when the stream was
        not deserialised by :func:`landsim_wire.chunks.chunk_deserializer`,
        StreamEvaluateRequest messages with ``points``).
    header : StreamEvaluateHeader
        The first message's header (what to compute).
    spec : LandscapeSpec
        The header's landscape.
    context : grpc.aio.ServicerContext
        Checked before each block is handed to the pool.
    executor : concurrent.futures.Executor
        Pool computing the blocks.
    limits : ServiceLimits
    buffers : BufferPool
        Recycled gradient buffers (axis-aligned landscapes).

    Yields
    ------
    bytes
        Serialised StreamEvaluateResponse chunks, block after block in row order.
    """

    def check_shape(shape: tuple[int, ...]) -> None:
        B, D = shape
        if D != spec.dim or B < 1:
            raise InvalidArgument("points.shape", f"must be (B, D={spec.dim}) with "
                                                  f"B >= 1, got {[B, D]}")
        check_count(limits, "points", B)
        # the blocks in the pool and the one filling, with their results
        rows = min(B, block * (BLOCKS_IN_FLIGHT + 1))
        charge_memory("points", rows * D * 8 * (2 if header.want_gradient else 1)
                      + rows * 16 + (rows * spec.n_wedges * 8 if header.want_wedge_losses
                                     else 0))

    block = max(1, limits.block_floats // spec.dim)
    reader = RowReader("points", FLOAT_DTYPES, limits.max_array_bytes, ndim=2,
                       on_header=check_shape)
    evaluate = functools.partial(evaluate_block, spec, header.want_gradient,
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
            checkpoint(context)
            buffer = buffers.take(n * spec.dim * reader.dtype.itemsize) if pooled else None
            running.append(loop.run_in_executor(executor, evaluate, pieces,
                                                state["submitted"], buffer))
            state["submitted"] += n
            state["queued"] -= n

    async def send(done: Block) -> AsyncIterator[bytes]:
        """A computed block's response chunks, encoded one at a time as they go out
        (one copy each, into memory just freed by the previous one)."""
        start, arrays, buffer = done
        B = reader.shape[0]
        for name, a, tail in arrays:
            row_bytes = a.itemsize * math.prod(tail)
            for message in iter_encoded_chunks(_RESPONSE_CHUNK, name, a, limits.chunk_bytes,
                                               offset=start * row_bytes,
                                               full_shape=(B, *tail)):
                yield message
        if buffer is not None:
            buffers.give(buffer)

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
            while running and (running[0].done() or len(running) > BLOCKS_IN_FLIGHT):
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
