"""The landsim gRPC service against raw gRPC on the same loopback, in one run.

Two servers run as separate processes: the landsim server (``python -m landsim_server``)
and a raw bytes server (a generic handler, no protobuf parsing: unary echo, stream echo,
and a stream that answers each message with a small acknowledgement). The client is
this process, with blocking stubs.

(a) Latency: Evaluate of one point with D = 1000 (float64, 8000 bytes), median over many
    calls, against a raw unary echo of the same 8000 bytes. Target: <= 2x.
(b) Throughput: StreamEvaluate of B x D float64 points in chunks of whole rows (131 rows,
    1,048,000 bytes, just under 1 MiB), against a raw stream of the same chunks; the two
    move the same payload both ways. Loss only: the raw server answers each chunk with
    16 bytes per row (what losses and argmin take); with gradients: the raw server
    echoes every chunk (what the gradients take; the service also returns losses and
    argmin, 0.2% more). The service is called as the client library calls it: request
    chunks serialised from the points' memory and response chunks read as views
    (``landsim_wire.chunks``); both clients' request bytes are made before the timed calls. Raw
    and service streams run alternately, so that both see the same background load.
    Target: >= 60% of the raw rate (bytes per second). For a like-for-like comparison,
    give every process the landsim server's allocator settings through the environment
    (see benchmarks/RESULTS.md).

Usage::

    python benchmarks/bench_grpc.py [--no-append] [--calls 2000] [--rows 16384]

Results are printed and appended to benchmarks/RESULTS.md under "gRPC service".
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc
from landsim_server.arrays import iter_chunks, to_ndarray
from landsim_wire.chunks import ChunkView, chunk_deserializer, encode_chunks, serialize_or_pass
from landsim_wire.v1 import landscape_pb2 as pb
from landsim_wire.v1 import landscape_pb2_grpc

DIM = 1000
CHUNK = 1 << 20
CAP = 256 << 20
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", CAP),
                   ("grpc.max_send_message_length", CAP)]
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


# ---------------------------------------------------------------------- raw server
def run_echo_server() -> None:
    """A raw bytes server on 127.0.0.1:0 (prints its port, runs until killed)."""
    import asyncio

    async def unary(request: bytes, context) -> bytes:
        return request

    async def echo(requests, context):
        async for message in requests:
            yield message

    async def ack(requests, context):  # 16 bytes per float64 row of DIM values
        async for message in requests:
            yield message[:len(message) // (8 * DIM) * 16]

    handlers = {"Unary": grpc.unary_unary_rpc_method_handler(unary),
                "Echo": grpc.stream_stream_rpc_method_handler(echo),
                "Ack": grpc.stream_stream_rpc_method_handler(ack)}

    async def main() -> None:
        server = grpc.aio.server(options=CHANNEL_OPTIONS)
        server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("bench.Raw",
                                                                              handlers)])
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        print(f"raw server listening on 127.0.0.1:{port}", flush=True)
        await server.wait_for_termination()

    asyncio.run(main())


def _spawn(args: list[str]) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise RuntimeError(f"{args} did not start: {line!r}")
    return proc, line.rsplit(" ", 1)[1].strip()


def _wait_serving(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for _ in range(1200):
        if health.Check(health_pb2.HealthCheckRequest()).status == \
                health_pb2.HealthCheckResponse.SERVING:
            return
        time.sleep(0.05)
    raise RuntimeError("the landsim server never became SERVING")


# ---------------------------------------------------------------------- measurements
def _median_call_s(fn, calls: int, warmup: int = 200) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _interleaved_s(raw, service, repeats: int) -> tuple[float, float]:
    """Median seconds of ``raw()`` and of ``service()``, run alternately (after one
    warm-up each), so that both see the same background load of a shared machine."""
    raw()
    service()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for fn, ts in zip((raw, service), times):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return statistics.median(times[0]), statistics.median(times[1])


def measure(calls: int, rows: int, repeats: int) -> dict:
    tmp = tempfile.mkdtemp(prefix="landsim-bench-")
    landsim_proc, landsim_addr = _spawn(["-m", "landsim_server", "--port", "0", "--data-dir",
                                         tmp, "--workers", "0", "--max-message-bytes",
                                         str(CAP)])
    raw_proc, raw_addr = _spawn([__file__, "--echo-server"])
    try:
        ch = grpc.insecure_channel(landsim_addr, options=CHANNEL_OPTIONS)
        raw = grpc.insecure_channel(raw_addr, options=CHANNEL_OPTIONS)
        _wait_serving(ch)
        stub = landscape_pb2_grpc.LandscapeServiceStub(ch)
        lid = stub.CreateLandscape(pb.CreateLandscapeRequest(random=pb.RandomLandscapeParams(
            dim=DIM, n_wedges=8, n_short=[50], eps1=[0.05], seed=0))).id
        rng = np.random.default_rng(0)
        out: dict = {}

        # (a) one point
        x = rng.normal(size=(1, DIM))
        request = pb.EvaluateRequest(landscape_id=lid, points=to_ndarray(x))
        request_grad = pb.EvaluateRequest(landscape_id=lid, points=to_ndarray(x),
                                          want_gradient=True)
        payload = x.tobytes()
        unary = raw.unary_unary("/bench.Raw/Unary")
        out["raw_echo_s"] = _median_call_s(lambda: unary(payload), calls)
        out["evaluate_s"] = _median_call_s(lambda: stub.Evaluate(request), calls)
        out["evaluate_grad_s"] = _median_call_s(lambda: stub.Evaluate(request_grad), calls)
        out["payload_bytes"] = len(payload)

        # (b) a stream of B x D points, in chunks of whole rows (as the client library sends)
        X = rng.normal(size=(rows, DIM))
        chunks = list(iter_chunks("points", X, CHUNK // X[0].nbytes * X[0].nbytes))
        raw_chunks = [c.data for c in chunks]
        moved: dict[str, tuple[int, int]] = {}  # bytes (up, down) of one call, payload only

        # the service's stream as the client library calls it: requests are bytes
        # encoded from the points' memory, responses are read as views of the received
        # bytes (landsim_wire.chunks); like the raw chunks, the request bytes are made up front
        stream = ch.stream_stream(
            f"/{pb.DESCRIPTOR.services_by_name['LandscapeService'].full_name}/StreamEvaluate",
            request_serializer=serialize_or_pass,
            response_deserializer=chunk_deserializer(pb.StreamEvaluateResponse, "chunk"))
        points_field = pb.StreamEvaluateRequest.DESCRIPTOR.fields_by_name["points"].number
        encoded = list(encode_chunks(points_field, "points", X, len(chunks[0].data)))

        def service(want_gradient: bool):
            reqs = [pb.StreamEvaluateRequest(header=pb.StreamEvaluateHeader(
                landscape_id=lid, want_gradient=want_gradient)), *encoded]

            def run():
                received = sum(len(r.data if isinstance(r, ChunkView) else r.chunk.data)
                               for r in stream(iter(reqs)))
                assert received == rows * 16 + (X.nbytes if want_gradient else 0)
                moved[f"service{want_gradient}"] = (X.nbytes, received)
            return run

        def raw_stream(method: str):
            call = raw.stream_stream(f"/bench.Raw/{method}")

            def run():
                received = sum(len(r) for r in call(iter(raw_chunks)))
                assert received == (rows * 16 if method == "Ack" else X.nbytes)
                moved[method] = (X.nbytes, received)
            return run

        out["stream_bytes"] = X.nbytes
        out["raw_ack_s"], out["stream_s"] = _interleaved_s(raw_stream("Ack"), service(False),
                                                           repeats)
        out["raw_echo_stream_s"], out["stream_grad_s"] = _interleaved_s(
            raw_stream("Echo"), service(True), repeats)
        out["moved"] = moved
        ch.close()
        raw.close()
        return out
    finally:
        for proc in (landsim_proc, raw_proc):
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


# ---------------------------------------------------------------------- report
def _machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True,
                               check=True).stdout.splitlines()[:10]
    except (OSError, subprocess.CalledProcessError):
        lscpu = [platform.processor() or "unknown CPU"]
    return "\n".join(lscpu) + f"\nnproc: {os.cpu_count()}"


def _moved(moved: dict[str, tuple[int, int]]) -> str:
    names = {"Ack": "raw ack", "serviceFalse": "service, loss only", "Echo": "raw echo",
             "serviceTrue": "service with gradients"}
    return "; ".join(f"{names[k]} {up:,} / {down:,}" for k, (up, down) in moved.items())


def report(r: dict, calls: int, rows: int, repeats: int) -> str:
    gb = r["stream_bytes"] / 1e9
    lat = r["evaluate_s"] / r["raw_echo_s"]
    lat_g = r["evaluate_grad_s"] / r["raw_echo_s"]
    thr = r["raw_ack_s"] / r["stream_s"]
    thr_g = r["raw_echo_stream_s"] / r["stream_grad_s"]
    ok = lambda met: "**yes**" if met else "**no**"  # noqa: E731
    versions = (f"Python {platform.python_version()}, grpcio {grpc.__version__}, "
                f"NumPy {np.__version__}")
    return f"""
### Run of {datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}

`python benchmarks/bench_grpc.py` (landsim server and raw bytes server in their own
processes on 127.0.0.1, blocking client in a third; {versions}). Landscape: axis-aligned,
D = {DIM}, K = 8, s = 50, hard union. Latency: median of {calls} calls after 200 warm-up
calls. Throughput: median of {repeats} streams of {rows} x {DIM} float64 points
({gb * 1e3:.0f} MB) in chunks of {CHUNK // (8 * DIM)} whole rows, raw and service streams
alternating, after one warm-up stream each. Payload bytes of one call (up / down):
{_moved(r["moved"])}.

| measurement | landsim | raw gRPC | ratio | target | met? |
|---|---|---|---|---|---|
| (a) Evaluate, 1 point, D={DIM}, loss only vs unary echo of {r["payload_bytes"]} B | {r["evaluate_s"] * 1e6:.0f} us | {r["raw_echo_s"] * 1e6:.0f} us | {lat:.2f}x | <= 2x | {ok(lat <= 2)} |
| (a') same, with the gradient (8000 B back) | {r["evaluate_grad_s"] * 1e6:.0f} us | {r["raw_echo_s"] * 1e6:.0f} us | {lat_g:.2f}x | <= 2x | {ok(lat_g <= 2)} |
| (b) StreamEvaluate, loss only vs stream + 16 B/row ack | {gb / r["stream_s"]:.2f} GB/s | {gb / r["raw_ack_s"]:.2f} GB/s | {thr:.0%} | >= 60% | {ok(thr >= 0.6)} |
| (b') StreamEvaluate with gradients vs echo stream | {gb / r["stream_grad_s"]:.2f} GB/s | {gb / r["raw_echo_stream_s"]:.2f} GB/s | {thr_g:.0%} | >= 60% | {ok(thr_g >= 0.6)} |

GB/s counts the points sent (B x D x 8 bytes) per second of a whole call.

Machine:
```
{_machine()}
```
"""  # noqa: E501


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--echo-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=2000, help="latency calls per case")
    parser.add_argument("--rows", type=int, default=16384, help="points per stream")
    parser.add_argument("--repeats", type=int, default=5, help="streams per case")
    parser.add_argument("--no-append", action="store_true",
                        help="print only; do not append to RESULTS.md")
    args = parser.parse_args(argv)
    if args.echo_server:
        run_echo_server()
        return 0
    result = measure(args.calls, args.rows, args.repeats)
    text = report(result, args.calls, args.rows, args.repeats)
    print(text)
    if not args.no_append:
        existing = RESULTS.read_text() if RESULTS.exists() else ""
        heading = "" if "\n## gRPC service\n" in existing else "\n## gRPC service\n"
        with open(RESULTS, "a") as f:
            f.write(heading + text)
        print(f"appended to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
