"""Admission control: which calls run now, which wait, which are refused at once.

One :class:`Admission` per server, used only from the server's event loop (no locks):

- **Health and reflection are never limited**: a load balancer sees SERVING while the
  server is busy (:data:`OPEN_METHOD_PREFIXES`).
- **Short (unary) calls** take one of ``max_calls`` slots. When all are taken a call waits
  in a FIFO queue of at most ``max_queued`` calls, for at most ``queue_wait_s`` (or its
  deadline); past either it gets RESOURCE_EXHAUSTED with ``QuotaFailure`` and a
  ``RetryInfo`` hint. When slots and queue are both full the call is refused before its
  request is even decoded.
- **Streaming calls** (any method whose request or response is a stream: WatchJob,
  Descend, Section, StreamEvaluate, GetJobResult) count against ``max_streams`` alone, so
  long-lived streams never starve short calls; over the cap, RESOURCE_EXHAUSTED at once.
- **Memory**: each admitted call has a ledger of the bytes it declares (its request, and
  what the servicer announces with :func:`charge_memory` before allocating: decoded
  arrays, results, stream buffers). A charge that does not fit in the budget's free
  bytes is RESOURCE_EXHAUSTED naming the quantity (with a retry hint when the call alone
  would fit). The ledger is freed when the call ends.

:class:`AdmissionInterceptor` applies all of this to every method of a server; it goes
after the bearer-token interceptor, so a refused token never takes a slot.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import math
from collections import deque
from dataclasses import dataclass

import grpc

from .errors import ResourceExhausted

__all__ = ["AdmissionLimits", "Admission", "AdmissionInterceptor", "MemoryLedger",
           "charge_memory", "OPEN_METHOD_PREFIXES"]

#: Methods never limited (nor authenticated): health checks and server reflection.
OPEN_METHOD_PREFIXES = ("/grpc.health.v1.Health/",
                        "/grpc.reflection.v1alpha.ServerReflection/",
                        "/grpc.reflection.v1.ServerReflection/")
#: Retry hints (seconds) sent with a refusal.
RETRY_STREAM_S = 1.0
RETRY_MEMORY_S = 0.5


@dataclass(frozen=True)
class AdmissionLimits:
    """The limits of one server's admission control.

    Parameters
    ----------
    max_calls : int
        Short calls in progress at once, >= 1.
    max_queued : int
        Short calls waiting for a slot, >= 0.
    queue_wait_s : float
        Longest wait of a queued call, in [0, 60].
    max_streams : int
        Streaming calls open at once, >= 1.
    max_memory : int
        Bytes the calls in progress may declare in all, >= 1 MiB.
    max_lag_s : float or None
        Event-loop lag over which new short calls are refused at once (load shedding),
        in ]0, 10]; None (the default): no shedding. When more callers arrive than the
        loop can serve, gRPC queues them ahead of health checks, and the lag is what
        tells; but on a machine busy with other work the lag rises too, so shedding is
        the operator's choice.
    """

    max_calls: int = 64
    max_queued: int = 64
    queue_wait_s: float = 1.0
    max_streams: int = 64
    max_memory: int = 1 << 30
    max_lag_s: float | None = None

    def __post_init__(self) -> None:
        for name, low in (("max_calls", 1), ("max_queued", 0), ("max_streams", 1),
                          ("max_memory", 1 << 20)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        wait = self.queue_wait_s
        if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not (
                math.isfinite(wait) and 0 <= wait <= 60):
            raise ValueError(f"queue_wait_s must be a number in [0, 60], got {wait!r}")
        lag = self.max_lag_s
        if lag is not None and (isinstance(lag, bool) or not isinstance(lag, (int, float))
                                or not (math.isfinite(lag) and 0 < lag <= 10)):
            raise ValueError(f"max_lag_s must be a number in ]0, 10], got {lag!r}")

    @property
    def retry_call_s(self) -> float:
        """Retry hint of a refused short call: the queue wait, within [0.05, 1] s."""
        return min(1.0, max(0.05, self.queue_wait_s))


class MemoryLedger:
    """The bytes one call declared; :meth:`Admission.release` gives them back."""

    __slots__ = ("admission", "bytes", "open")

    def __init__(self, admission: Admission) -> None:
        self.admission = admission
        self.bytes = 0
        self.open = True

    def charge(self, field: str, nbytes: int) -> None:
        """Declare ``nbytes`` more for this call; ResourceExhausted naming ``field`` if
        they do not fit in the budget's free bytes."""
        nbytes = max(0, int(nbytes))
        if not self.open or nbytes == 0:
            return
        adm = self.admission
        total = adm.limits.max_memory
        need = self.bytes + nbytes
        if need > total:
            raise ResourceExhausted(f"memory ({field})", total, need,
                                    "this call alone needs more than the server's memory "
                                    "budget (--max-memory); ask for less")
        if adm.memory_used + nbytes > total:
            raise ResourceExhausted(
                f"memory ({field})", total - adm.memory_used, nbytes,
                f"bytes free in the memory budget of {total} (--max-memory) are fewer than "
                "this call needs; retry later", retry_after_s=RETRY_MEMORY_S)
        adm.memory_used += nbytes
        self.bytes += nbytes


_LEDGER: contextvars.ContextVar[MemoryLedger | None] = contextvars.ContextVar(
    "landsim_memory_ledger", default=None)


def charge_memory(field: str, nbytes: int) -> None:
    """Declare ``nbytes`` the current call is about to allocate for ``field``.

    A no-op outside an admitted call (a servicer called directly, e.g. in a test).
    Raises ResourceExhausted when the bytes do not fit in the server's memory budget.
    """
    ledger = _LEDGER.get()
    if ledger is not None:
        ledger.charge(field, nbytes)


class Admission:
    """Slots, queue, stream count and memory budget of one server (event loop only).

    Parameters
    ----------
    limits : AdmissionLimits
    """

    def __init__(self, limits: AdmissionLimits) -> None:
        self.limits = limits
        self.calls = 0  # short calls holding a slot
        self.streams = 0
        self.memory_used = 0
        self._queue: deque[asyncio.Future] = deque()
        self.refused = 0  # calls refused so far (any reason)
        self.lag_s = 0.0  # recent event-loop lag (see monitor_lag)

    async def monitor_lag(self, interval_s: float = 0.005) -> None:
        """Measure the event loop's lag for ever (run as a task): how late a short sleep
        wakes, averaged over about ten ticks, so that one long pause (a compile, a garbage
        collection) does not shed calls but a loop that stays behind does."""
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            await asyncio.sleep(interval_s)
            late = loop.time() - began - interval_s
            self.lag_s += 0.1 * (min(late, 1.0) - self.lag_s)

    def overloaded(self) -> bool:
        """Whether the event loop lags more than ``max_lag_s`` (shed new short calls)."""
        return self.limits.max_lag_s is not None and self.lag_s > self.limits.max_lag_s

    # ------------------------------------------------------------------ short calls
    def short_full(self) -> bool:
        """Whether a short call arriving now would be refused at once."""
        return self.calls >= self.limits.max_calls and len(self._queue) >= \
            self.limits.max_queued

    def _refuse_call(self, why: str) -> ResourceExhausted:
        self.refused += 1
        lim = self.limits
        return ResourceExhausted(
            "concurrent calls", lim.max_calls, self.calls + len(self._queue) + 1,
            f"{why}; the server is busy, retry later (--max-concurrent-calls "
            f"{lim.max_calls}, --max-queued-calls {lim.max_queued})",
            retry_after_s=lim.retry_call_s)

    async def enter_call(self, time_remaining: float | None) -> None:
        """Take a slot, waiting in the queue if need be; ResourceExhausted when the queue
        is full or the wait runs out."""
        if self.calls < self.limits.max_calls and not self._queue:
            self.calls += 1
            return
        if len(self._queue) >= self.limits.max_queued:
            raise self._refuse_call("all call slots and the wait queue are taken")
        wait = self.limits.queue_wait_s
        if time_remaining is not None:
            wait = max(0.0, min(wait, time_remaining))
        turn = asyncio.get_running_loop().create_future()
        self._queue.append(turn)
        try:
            await asyncio.wait_for(asyncio.shield(turn), wait)
        except (TimeoutError, asyncio.CancelledError) as exc:
            if turn.done() and not turn.cancelled():  # the slot came as the wait ended
                self.leave_call()
            else:
                turn.cancel()
                self._remove(turn)
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise self._refuse_call(f"no call slot freed within {wait:g} s") from None

    def _remove(self, turn: asyncio.Future) -> None:
        try:
            self._queue.remove(turn)
        except ValueError:
            pass

    def leave_call(self) -> None:
        """Give a slot back: to the oldest waiter, else to the pool."""
        while self._queue:
            turn = self._queue.popleft()
            if not turn.done():
                turn.set_result(None)  # the slot passes on; the count stays
                return
        self.calls -= 1

    # ------------------------------------------------------------------ streams
    def enter_stream(self) -> None:
        """Count one more open stream; ResourceExhausted over the cap."""
        if self.streams >= self.limits.max_streams:
            self.refused += 1
            raise ResourceExhausted(
                "open streams", self.limits.max_streams, self.streams + 1,
                "streaming calls open at once (--max-streams); retry later",
                retry_after_s=RETRY_STREAM_S)
        self.streams += 1

    def leave_stream(self) -> None:
        self.streams -= 1

    # ------------------------------------------------------------------ memory
    def open_ledger(self, request=None) -> MemoryLedger:
        """A ledger for a new call, made current, charged with the size of its decoded
        request message (twice: the message and the arrays decoded from it)."""
        ledger = MemoryLedger(self)
        _LEDGER.set(ledger)
        size = getattr(request, "ByteSize", None)
        if size is not None:
            ledger.charge("request", 2 * size())
        return ledger

    def release(self, ledger: MemoryLedger) -> None:
        """Free a ledger's bytes (once)."""
        if ledger.open:
            ledger.open = False
            self.memory_used -= ledger.bytes


# ---------------------------------------------------------------------- interceptor
def _handler_like(handler, behavior):
    """A method handler of the same kind and serializers as ``handler``."""
    kinds = {(False, False): grpc.unary_unary_rpc_method_handler,
             (False, True): grpc.unary_stream_rpc_method_handler,
             (True, False): grpc.stream_unary_rpc_method_handler,
             (True, True): grpc.stream_stream_rpc_method_handler}
    make = kinds[(handler.request_streaming, handler.response_streaming)]
    return make(behavior, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)


def _inner_behavior(handler):
    return (handler.unary_unary or handler.unary_stream or handler.stream_unary
            or handler.stream_stream)


class AdmissionInterceptor(grpc.aio.ServerInterceptor):
    """Apply an :class:`Admission` to every method but health and reflection."""

    def __init__(self, admission: Admission) -> None:
        self.admission = admission

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(OPEN_METHOD_PREFIXES):
            return handler
        if handler.request_streaming or handler.response_streaming:
            inner = _inner_behavior(handler)
            return _handler_like(handler, self._stream_behavior(inner)
                                 if handler.response_streaming
                                 else self._stream_unary_behavior(inner))
        if self.admission.short_full():  # refuse before decoding the request
            return grpc.unary_unary_rpc_method_handler(self._refuse_now)
        if self.admission.overloaded():
            return grpc.unary_unary_rpc_method_handler(self._shed_now)
        return _handler_like(handler, self._unary_behavior(handler.unary_unary))

    async def _refuse_now(self, request, context):
        await context.abort_with_status(self.admission._refuse_call(
            "all call slots and the wait queue are taken").to_status())

    async def _shed_now(self, request, context):
        adm = self.admission
        adm.refused += 1
        limit_ms, lag_ms = round(adm.limits.max_lag_s * 1e3), round(adm.lag_s * 1e3)
        await context.abort_with_status(ResourceExhausted(
            "event loop lag (ms)", limit_ms, lag_ms,
            "the server is overloaded and sheds new calls until it catches up; retry later",
            retry_after_s=adm.limits.retry_call_s).to_status())

    async def _admit(self, context, stream: bool, request=None) -> MemoryLedger:
        """Take a call slot (or count a stream) and open the call's memory ledger; abort
        the call with RESOURCE_EXHAUSTED if either is refused."""
        adm = self.admission
        try:
            if stream:
                adm.enter_stream()
            else:
                await adm.enter_call(context.time_remaining())
        except ResourceExhausted as exc:
            await context.abort_with_status(exc.to_status())
        try:
            return adm.open_ledger(request)
        except ResourceExhausted as exc:
            self._leave(None, stream)
            await context.abort_with_status(exc.to_status())

    def _leave(self, ledger: MemoryLedger | None, stream: bool) -> None:
        adm = self.admission
        if ledger is not None:
            adm.release(ledger)
        adm.leave_stream() if stream else adm.leave_call()

    def _unary_behavior(self, inner):
        async def behavior(request, context):
            ledger = await self._admit(context, False, request)
            try:
                return await inner(request, context)
            finally:
                self._leave(ledger, False)
        return behavior

    def _stream_behavior(self, inner):
        is_generator = inspect.isasyncgenfunction(inner)

        async def behavior(request, context):
            ledger = await self._admit(context, True, request)
            try:
                if is_generator:
                    async for item in inner(request, context):
                        yield item
                else:
                    result = await inner(request, context)
                    if result is not None:
                        yield result
            finally:
                self._leave(ledger, True)
        return behavior

    def _stream_unary_behavior(self, inner):
        async def behavior(request_iterator, context):
            ledger = await self._admit(context, True)
            try:
                return await inner(request_iterator, context)
            finally:
                self._leave(ledger, True)
        return behavior
