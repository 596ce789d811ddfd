"""128 concurrent callers against the default limits: admitted or refused, never starved.

Starts ``python -m landsim_server`` (127.0.0.1, port 0, no job workers, every admission
limit at its default), creates one landscape (D = 6), then runs ``--callers`` (default
128) one-point Evaluate callers for ``--seconds`` (default 15) from ``--procs`` client
processes (asyncio, pre-serialised requests), while a separate process checks health
every 50 ms. Prints calls/s, latency p50/p99, every status code seen, whether every
RESOURCE_EXHAUSTED carried a QuotaFailure, and the health checks' worst and p99 latency.
Exit status 1 if a call ended with another code, a refusal lacked QuotaFailure, or a
health check took 50 ms or more or did not answer SERVING.

    python benchmarks/bench_admission.py [--callers 128] [--seconds 15] [--procs 4]
                                         [--max-lag SECONDS]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter

import grpc
import numpy as np
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from landsim_wire.arrays import to_ndarray
from landsim_wire.v1 import landscape_pb2 as pb
from landsim_wire.v1 import landscape_pb2_grpc

METHOD = "/landsim.v1.LandscapeService/Evaluate"
HEALTH_LIMIT_S = 0.050


def _has_quota_failure(exc: grpc.aio.AioRpcError) -> bool:
    status = rpc_status.from_call(exc)
    return status is not None and any(
        d.Is(error_details_pb2.QuotaFailure.DESCRIPTOR) for d in status.details)


def _callers(address: str, body: bytes, n: int, seconds: float, out, nice: int = 0) -> None:
    """One client process: ``n`` callers in a loop; puts (codes, latencies, bad) on out."""
    if nice:
        os.nice(nice)
    async def run():
        codes: Counter = Counter()
        latencies: list[float] = []
        bad = 0
        async with grpc.aio.insecure_channel(address) as channel:
            call = channel.unary_unary(METHOD)
            end = time.perf_counter() + seconds

            async def caller():
                nonlocal bad
                while (t0 := time.perf_counter()) < end:
                    try:
                        await call(body, timeout=10)
                        codes["OK"] += 1
                        latencies.append(time.perf_counter() - t0)
                    except grpc.aio.AioRpcError as exc:
                        codes[exc.code().name] += 1
                        if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                            bad += not _has_quota_failure(exc)
                            await asyncio.sleep(0.005)

            await asyncio.gather(*(caller() for _ in range(n)))
        return codes, latencies, bad

    out.put(asyncio.run(run()))


def _health(address: str, seconds: float, out) -> None:
    """Check health every 50 ms; puts (latencies, statuses not SERVING)."""
    latencies, not_serving = [], 0
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            try:
                status = stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status
                not_serving += status != health_pb2.HealthCheckResponse.SERVING
            except grpc.RpcError:
                not_serving += 1
            latencies.append(time.perf_counter() - t0)
            time.sleep(0.05)
    out.put((latencies, not_serving))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=128)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--max-lag", type=float, default=None,
                        help="the server's --max-lag (load shedding; default: off)")
    parser.add_argument("--client-nice", type=int, default=0,
                        help="niceness of the load-generating processes (not the health "
                             "prober); 19 approximates callers on another machine")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as data_dir, tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen([sys.executable, "-m", "landsim_server", "--port", "0",
                                 "--data-dir", data_dir, "--workers", "0"]
                                + ([] if args.max_lag is None
                                   else ["--max-lag", str(args.max_lag)]),
                                stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            line = proc.stdout.readline()
            if "listening on" not in line:
                raise RuntimeError(f"the server did not start: {line!r}")
            address = line.rsplit(" ", 1)[1].strip()
            with grpc.insecure_channel(address) as channel:
                stub = landscape_pb2_grpc.LandscapeServiceStub(channel)
                land = stub.CreateLandscape(pb.CreateLandscapeRequest(
                    random=pb.RandomLandscapeParams(dim=6, n_wedges=3, n_short=[2], seed=1)))
            body = pb.EvaluateRequest(landscape_id=land.id,
                                      points=to_ndarray(np.ones((1, 6)))).SerializeToString()
            ctx = mp.get_context("spawn")
            out = ctx.Queue()
            per = [args.callers // args.procs + (i < args.callers % args.procs)
                   for i in range(args.procs)]
            workers = [ctx.Process(target=_callers,
                                   args=(address, body, n, args.seconds, out, args.client_nice))
                       for n in per]
            prober = ctx.Process(target=_health, args=(address, args.seconds, out))
            for p in workers + [prober]:
                p.start()
            results = [out.get(timeout=args.seconds + 120) for _ in workers + [prober]]
            for p in workers + [prober]:
                p.join(30)
        finally:
            proc.terminate()
            proc.wait(60)
    (health_lat, not_serving), = [r for r in results if len(r) == 2]
    codes, latencies, bad = Counter(), [], 0
    for c, lat, b in (r for r in results if len(r) == 3):
        codes.update(c)
        latencies += lat
        bad += b
    lat = np.array(latencies) * 1e3
    h = np.array(health_lat) * 1e3
    print(f"{args.callers} callers, {args.seconds:g} s, {args.procs} client processes"
          f" at nice {args.client_nice}")
    print(f"calls: {sum(codes.values())} ({codes['OK'] / args.seconds:.0f} OK/s); "
          + ", ".join(f"{k} {v}" for k, v in sorted(codes.items())))
    if lat.size:
        print(f"OK latency ms: p50 {np.percentile(lat, 50):.1f}, "
              f"p99 {np.percentile(lat, 99):.1f}")
    print(f"RESOURCE_EXHAUSTED without QuotaFailure: {bad}")
    print(f"health: {h.size} checks, p50 {np.percentile(h, 50):.1f} ms, "
          f"p99 {np.percentile(h, 99):.1f} ms, worst {h.max():.1f} ms, "
          f"not SERVING {not_serving}")
    other = set(codes) - {"OK", "RESOURCE_EXHAUSTED"}
    ok = not other and bad == 0 and not_serving == 0 and h.max() < HEALTH_LIMIT_S * 1e3
    print("target (every call OK or RESOURCE_EXHAUSTED with QuotaFailure; health SERVING "
          f"in < 50 ms): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
