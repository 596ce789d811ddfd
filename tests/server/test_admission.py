"""Admission control (landsim_server.admission) on a real grpc.aio server with a test
service whose calls wait on a gate: slots, the bounded FIFO queue, its wait limit, the
stream cap, the memory ledger, and health that is never limited."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from landsim_server.admission import Admission, AdmissionInterceptor, AdmissionLimits, charge_memory
from landsim_server.errors import ResourceExhausted

SERVICE = "test.Gated"


class Gated:
    """``Hold`` waits on the gate (unary); ``Watch`` yields one item then waits (stream);
    ``Charge`` declares the request's bytes as memory (the body is a decimal count)."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()

    async def hold(self, request, context):
        await self.gate.wait()
        return b"done"

    async def watch(self, request, context):
        yield b"first"
        await self.gate.wait()
        yield b"last"

    async def charge(self, request, context):
        try:
            charge_memory("request.size", int(request))
        except ResourceExhausted as exc:
            await context.abort_with_status(exc.to_status())
        await self.gate.wait()
        return b"charged"


async def _start(limits: AdmissionLimits):
    admission = Admission(limits)
    server = grpc.aio.server(interceptors=[AdmissionInterceptor(admission)])
    gated = Gated()
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {
        "Hold": grpc.unary_unary_rpc_method_handler(gated.hold),
        "Watch": grpc.unary_stream_rpc_method_handler(gated.watch),
        "Charge": grpc.unary_unary_rpc_method_handler(gated.charge)}),))
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, admission, gated, f"127.0.0.1:{port}"


def _details(exc: grpc.aio.AioRpcError) -> dict:
    status = rpc_status.from_call(exc)
    out = {}
    for any_msg in status.details:
        for cls in (error_details_pb2.QuotaFailure, error_details_pb2.RetryInfo,
                    error_details_pb2.ErrorInfo):
            if any_msg.Is(cls.DESCRIPTOR):
                msg = cls()
                any_msg.Unpack(msg)
                out[cls.__name__] = msg
    return out


async def _until(predicate, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


async def _healthy(channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_slots_queue_and_refusal_with_retry_hint():
    async def scenario():
        server, admission, gated, address = await _start(
            AdmissionLimits(max_calls=2, max_queued=1, queue_wait_s=5.0))
        try:
            async with grpc.aio.insecure_channel(address) as ch:
                hold = ch.unary_unary(f"/{SERVICE}/Hold")
                first = [asyncio.ensure_future(hold(b"", timeout=10)) for _ in range(2)]
                await _until(lambda: admission.calls == 2)
                queued = asyncio.ensure_future(hold(b"", timeout=10))
                await _until(lambda: len(admission._queue) == 1)
                with pytest.raises(grpc.aio.AioRpcError) as info:  # slots and queue full
                    await hold(b"", timeout=5)
                assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                found = _details(info.value)
                assert found["QuotaFailure"].violations[0].subject == "concurrent calls"
                assert found["RetryInfo"].retry_delay.seconds == 1
                await _healthy(ch)  # health is never limited
                gated.gate.set()
                assert [await f for f in first] == [b"done", b"done"]
                assert await queued == b"done"  # the queued call got a freed slot
                assert (admission.calls, len(admission._queue)) == (0, 0)
        finally:
            await server.stop(0)

    asyncio.run(scenario())


def test_a_queued_call_waits_at_most_queue_wait():
    async def scenario():
        server, admission, gated, address = await _start(
            AdmissionLimits(max_calls=1, max_queued=4, queue_wait_s=0.2))
        try:
            async with grpc.aio.insecure_channel(address) as ch:
                hold = ch.unary_unary(f"/{SERVICE}/Hold")
                held = asyncio.ensure_future(hold(b"", timeout=10))
                await _until(lambda: admission.calls == 1)
                loop = asyncio.get_running_loop()
                began = loop.time()
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await hold(b"", timeout=5)
                waited = loop.time() - began
                assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert "within 0.2 s" in info.value.details()
                assert 0.15 <= waited < 2.0
                assert "RetryInfo" in _details(info.value)
                assert len(admission._queue) == 0  # the timed-out waiter left the queue
                gated.gate.set()
                assert await held == b"done"
                assert admission.calls == 0
        finally:
            await server.stop(0)

    asyncio.run(scenario())


def test_streams_have_their_own_cap():
    async def scenario():
        server, admission, gated, address = await _start(
            AdmissionLimits(max_calls=1, max_queued=0, max_streams=2))
        try:
            async with grpc.aio.insecure_channel(address) as ch:
                watch = ch.unary_stream(f"/{SERVICE}/Watch")
                streams = [watch(b"", timeout=10) for _ in range(2)]
                for call in streams:
                    assert await call.read() == b"first"
                assert admission.streams == 2
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    async for _ in watch(b"", timeout=5):
                        pass
                assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert _details(info.value)["QuotaFailure"].violations[0].subject == \
                    "open streams"
                # the streams take no call slot: a short call still runs
                gated.gate.set()
                assert await ch.unary_unary(f"/{SERVICE}/Hold")(b"", timeout=5) == b"done"
                for call in streams:
                    assert await call.read() == b"last"
                await _until(lambda: admission.streams == 0)
        finally:
            await server.stop(0)

    asyncio.run(scenario())


def test_memory_budget_refuses_what_does_not_fit_and_frees_at_the_end():
    budget = 4 << 20

    async def scenario():
        server, admission, gated, address = await _start(
            AdmissionLimits(max_calls=8, max_queued=0, max_memory=budget))
        try:
            async with grpc.aio.insecure_channel(address) as ch:
                charge = ch.unary_unary(f"/{SERVICE}/Charge")
                # more than the whole budget: refused for good (no retry hint)
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await charge(str(budget + 1).encode(), timeout=5)
                assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                found = _details(info.value)
                assert "RetryInfo" not in found
                assert found["QuotaFailure"].violations[0].subject == "memory (request.size)"
                assert admission.memory_used == 0
                # 3 MiB held; another 3 MiB does not fit now: refused with a retry hint
                held = asyncio.ensure_future(charge(str(3 << 20).encode(), timeout=10))
                await _until(lambda: admission.memory_used >= 3 << 20)
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await charge(str(3 << 20).encode(), timeout=5)
                assert "RetryInfo" in _details(info.value)
                # 512 KiB still fits
                small = asyncio.ensure_future(charge(str(512 << 10).encode(), timeout=10))
                await _until(lambda: admission.memory_used >= (3 << 20) + (512 << 10))
                gated.gate.set()
                assert await held == b"charged" and await small == b"charged"
                await _until(lambda: admission.memory_used == 0)
        finally:
            await server.stop(0)

    asyncio.run(scenario())


def test_limits_are_validated():
    for kwargs in ({"max_calls": 0}, {"max_queued": -1}, {"max_streams": 0},
                   {"max_memory": 1000}, {"queue_wait_s": float("nan")},
                   {"queue_wait_s": 61}, {"max_lag_s": 0}, {"max_lag_s": True}):
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            AdmissionLimits(**kwargs)


def test_no_shedding_unless_asked():
    admission = Admission(AdmissionLimits())
    admission.lag_s = 5.0
    assert not admission.overloaded()


def test_a_lagging_event_loop_sheds_new_short_calls_but_not_health():
    async def scenario():
        server, admission, gated, address = await _start(AdmissionLimits(max_lag_s=0.02))
        try:
            async with grpc.aio.insecure_channel(address) as ch:
                admission.lag_s = 0.5  # as measured by monitor_lag under overload
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await ch.unary_unary(f"/{SERVICE}/Hold")(b"", timeout=5)
                assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert "overloaded" in info.value.details()
                assert _details(info.value)["QuotaFailure"].violations[0].subject == \
                    "event loop lag (ms)"
                assert {"QuotaFailure", "RetryInfo"} <= set(_details(info.value))
                await _healthy(ch)
                admission.lag_s = 0.0
                gated.gate.set()
                assert await ch.unary_unary(f"/{SERVICE}/Hold")(b"", timeout=5) == b"done"
        finally:
            await server.stop(0)

    asyncio.run(scenario())


def test_one_long_pause_does_not_shed():
    async def scenario():
        admission = Admission(AdmissionLimits(max_lag_s=0.02))
        monitor = asyncio.ensure_future(admission.monitor_lag())
        await asyncio.sleep(0.02)
        time.sleep(0.15)  # one long pause of the loop (a compile, a collection)
        await asyncio.sleep(0.001)
        assert not admission.overloaded(), admission.lag_s
        monitor.cancel()

    asyncio.run(scenario())


def test_an_unforeseen_memory_error_is_resource_exhausted_not_internal():
    from landsim_server.errors import grpc_errors

    class Context:
        async def abort_with_status(self, status):
            self.status = status
            raise grpc.aio.AbortError()

    class Servicer:
        @grpc_errors
        async def Section(self, request, context):
            raise MemoryError("Unable to allocate 4 GiB")

    context = Context()
    with pytest.raises(grpc.aio.AbortError):
        asyncio.run(Servicer().Section(None, context))
    assert context.status.code == grpc.StatusCode.RESOURCE_EXHAUSTED
