"""Small calls against one server process and against several (``--processes``), in one run.

The landsim server runs twice on the loopback, one after the other: with
``--processes 1`` and with ``--processes 2`` (``--workers 0``, no job workers). Each time,
``--callers`` concurrent callers (default 32) call Evaluate on one point of a random
landscape with D = 6 (float64) as fast as they can, for ``--warmup`` seconds (not counted)
and then ``--duration`` seconds (counted). A call counts in the window it starts in.

The load generator shares the machine's cores with the server, so it is made as cheap as
possible per call: ``--clients`` processes (default 2) each run ``callers / clients``
callers, as threads making blocking calls (``--api sync``, the default: about 190 us of
client CPU per call here) or as coroutines of one ``grpc.aio`` event loop (``--api aio``,
about 240 us). Each caller has its own channel and so its own TCP connection (the kernel
spreads connections, not calls, over the server processes) and sends one pre-serialised
request with pass-through (bytes) serialisers. Shed calls (RESOURCE_EXHAUSTED) are
counted apart; the caller backs off 1 ms.

Reported for each run: calls per second, median and 99th percentile latency, and the CPU
the server used (user + system time of the server process and its children, from
/proc/<pid>/stat, over the counted window, in cores), the CPU the clients used and the
CPU the rest of the machine used meanwhile (a busy neighbour skews the figures). Target
(issue): processes 2 >= 1.6x processes 1 in calls per second.

Usage::

    python benchmarks/bench_processes.py [--duration 10] [--warmup 2] [--callers 32]
                                         [--clients 2] [--processes 1 2] [--api sync]
                                         [--out FILE]

Prints a Markdown table (and writes it to FILE with ``--out``); exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import multiprocessing as mp
import os
import platform
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc
from landsim_server.arrays import to_ndarray
from landsim_wire.v1 import landscape_pb2 as pb
from landsim_wire.v1 import landscape_pb2_grpc

DIM = 6
METHOD = f"/{pb.DESCRIPTOR.services_by_name['LandscapeService'].full_name}/Evaluate"
FRESH = [("grpc.use_local_subchannel_pool", 1)]  # one TCP connection per channel
TICK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------- server
def _start_server(processes: int, data_dir: str) -> tuple[subprocess.Popen, str]:
    """The server on 127.0.0.1:0 and its address, once it printed its listening line."""
    proc = subprocess.Popen([sys.executable, "-m", "landsim_server", "--host", "127.0.0.1",
                             "--port", "0", "--workers", "0", "--data-dir", data_dir,
                             "--processes", str(processes), "--grace", "2"],
                            stdout=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=600)
    except queue.Empty:
        line = ""
    if "listening on" not in line:
        proc.kill()
        raise RuntimeError(f"the server with --processes {processes} did not start: {line!r}")
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain the rest
    return proc, line.rsplit(" ", 1)[1].strip()


def _stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc/<pid>/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            continue
    return out


def _cpu_s(pids: list[int]) -> float:
    """User + system seconds used so far by ``pids``."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def _machine_busy_s() -> float:
    """Busy CPU seconds of the whole machine so far (all cores, from /proc/stat)."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(
            int, f.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / TICK


# ---------------------------------------------------------------------- clients
def _client(address: str, request: bytes, callers: int, warmup_s: float, duration_s: float,
            ready, go, results) -> None:
    """One load process: ``callers`` coroutines, each on its own channel, calling until
    the window ends; puts (latencies of the counted calls, refused calls, CPU seconds) on
    ``results``, or an error text on ``ready``/``results`` if it fails."""

    async def once(call, out: list[float] | None = None) -> bool:
        """One call; False if the server shed it (RESOURCE_EXHAUSTED: back off 1 ms)."""
        try:
            await call(request, timeout=30)
            return True
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise
            await asyncio.sleep(1e-3)
            return False

    async def run() -> tuple[np.ndarray, int, float]:
        channels = [grpc.aio.insecure_channel(address, options=FRESH) for _ in range(callers)]
        calls = [ch.unary_unary(METHOD) for ch in channels]  # bytes in, bytes out
        for call in calls:  # connected, and the landscape cached everywhere
            while not await once(call):
                pass
        ready.put(os.getpid())
        await asyncio.get_running_loop().run_in_executor(None, go.wait)
        start = time.perf_counter() + warmup_s
        end = start + duration_s
        counted: list[list[float]] = [[] for _ in calls]
        refused = 0

        async def caller(call, out: list[float]) -> None:
            nonlocal refused
            while True:
                t0 = time.perf_counter()
                if t0 >= end:
                    return
                served = await once(call)
                if t0 >= start:
                    if served:
                        out.append(time.perf_counter() - t0)
                    else:
                        refused += 1

        cpu0 = None

        async def mark_cpu() -> None:
            nonlocal cpu0
            await asyncio.sleep(max(0.0, start - time.perf_counter()))
            cpu0 = time.process_time()

        await asyncio.gather(mark_cpu(), *(caller(c, o) for c, o in zip(calls, counted)))
        cpu = time.process_time() - cpu0
        for ch in channels:
            await ch.close()
        return np.concatenate([np.asarray(o, dtype=float) for o in counted]), refused, cpu

    try:
        latencies, refused, cpu = asyncio.run(run())
    except Exception as exc:  # tell the parent instead of leaving it waiting
        ready.put(f"client failed: {exc!r}")
        results.put(f"client failed: {exc!r}")
        raise
    results.put((latencies.tobytes(), refused, cpu))


def _sync_client(address: str, request: bytes, callers: int, warmup_s: float,
                 duration_s: float, ready, go, results) -> None:
    """:func:`_client` with the blocking API: one thread per caller."""
    try:
        channels = [grpc.insecure_channel(address, options=FRESH) for _ in range(callers)]
        calls = [ch.unary_unary(METHOD) for ch in channels]  # bytes in, bytes out

        def once(call) -> bool:
            try:
                call(request, timeout=30)
                return True
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                    raise
                time.sleep(1e-3)
                return False

        for call in calls:
            while not once(call):
                pass
    except Exception as exc:
        ready.put(f"client failed: {exc!r}")
        raise
    ready.put(os.getpid())
    go.wait()
    start = time.perf_counter() + warmup_s
    end = start + duration_s
    counted: list[list[float]] = [[] for _ in calls]
    refused = [0] * callers
    errors: list[str] = []

    def caller(k: int) -> None:
        try:
            while True:
                t0 = time.perf_counter()
                if t0 >= end:
                    return
                served = once(calls[k])
                if t0 >= start:
                    if served:
                        counted[k].append(time.perf_counter() - t0)
                    else:
                        refused[k] += 1
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(callers)]
    for t in threads:
        t.start()
    time.sleep(max(0.0, start - time.perf_counter()))
    cpu0 = time.process_time()
    for t in threads:
        t.join()
    cpu = time.process_time() - cpu0
    for ch in channels:
        ch.close()
    if errors:
        results.put(f"client failed: {errors[0]}")
        return
    latencies = np.concatenate([np.asarray(o, dtype=float) for o in counted])
    results.put((latencies.tobytes(), sum(refused), cpu))


def _get(q, what: str):
    item = q.get(timeout=120)
    if isinstance(item, str) and item.startswith("client failed"):
        raise RuntimeError(f"{what}: {item}")
    return item


def measure(processes: int, callers: int, clients: int, warmup_s: float,
            duration_s: float, api: str = "sync") -> dict:
    """One server run with ``processes`` processes under ``callers`` callers."""
    data_dir = tempfile.mkdtemp(prefix="landsim-bench-processes-")
    proc, address = _start_server(processes, data_dir)
    try:
        with grpc.insecure_channel(address) as channel:
            status = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=30).status
            assert status == health_pb2.HealthCheckResponse.SERVING
            lid = landscape_pb2_grpc.LandscapeServiceStub(channel).CreateLandscape(
                pb.CreateLandscapeRequest(random=pb.RandomLandscapeParams(
                    dim=DIM, n_wedges=4, n_short=[2], seed=0)), timeout=30).id
        x = np.random.default_rng(0).normal(size=(1, DIM))
        request = pb.EvaluateRequest(landscape_id=lid, points=to_ndarray(x)).SerializeToString()
        ctx = mp.get_context("spawn")  # no grpc state inherited through fork
        ready, go, results = ctx.Queue(), ctx.Event(), ctx.Queue()
        shares = [callers // clients + (i < callers % clients) for i in range(clients)]
        target = _client if api == "aio" else _sync_client
        workers = [ctx.Process(target=target, args=(address, request, n, warmup_s,
                                                     duration_s, ready, go, results))
                   for n in shares if n]
        for w in workers:
            w.start()
        for _ in workers:
            _get(ready, "connecting")
        pids = _tree(proc.pid)
        go.set()
        time.sleep(warmup_s)
        cpu0, busy0 = _cpu_s(pids), _machine_busy_s()
        time.sleep(duration_s)
        server_cpu, busy = _cpu_s(pids) - cpu0, _machine_busy_s() - busy0
        got = [_get(results, "calling") for _ in workers]
        for w in workers:
            w.join(30)
    finally:
        _stop_server(proc)
    latencies = np.concatenate([np.frombuffer(b) for b, _, _ in got])
    return {"processes": processes, "server_pids": len(pids), "calls": latencies.size,
            "rate": latencies.size / duration_s,
            "p50_ms": float(np.percentile(latencies, 50)) * 1e3,
            "p99_ms": float(np.percentile(latencies, 99)) * 1e3,
            "server_cores": server_cpu / duration_s,
            "refused": sum(r for _, r, _ in got),
            "client_cores": sum(c for _, _, c in got) / duration_s,
            "machine_cores": busy / duration_s}


# ---------------------------------------------------------------------- report
def report(runs: list[dict], args: argparse.Namespace) -> str:
    base = runs[0]["rate"]
    rows = "\n".join(
        f"| {r['processes']} | {r['rate']:,.0f} | {r['rate'] / base:.2f}x | "
        f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['refused']:,} | "
        f"{r['server_cores'] / r['rate'] * 1e6:.0f} | {r['server_cores']:.2f} | "
        f"{r['client_cores']:.2f} | "
        f"{r['machine_cores'] - r['server_cores'] - r['client_cores']:.2f} |" for r in runs)
    ratio = runs[-1]["rate"] / base
    api = "grpc.aio" if args.api == "aio" else "blocking calls, one thread per caller"
    versions = f"Python {platform.python_version()}, grpcio {grpc.__version__}"
    verdict = (f"processes {runs[-1]['processes']} / processes {runs[0]['processes']} = "
               f"{ratio:.2f}x; target >= 1.6x: **{'met' if ratio >= 1.6 else 'not met'}**")
    return f"""
### Run of {datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}

`python benchmarks/bench_processes.py` ({versions}; {os.cpu_count()} CPUs, shared by the
server and the load generator). Evaluate of 1 point, D = {DIM}, K = 4, float64, loss only;
{args.callers} concurrent callers in {args.clients} client processes ({api}, one
channel each, pre-serialised request); {args.warmup:g} s warm-up, then {args.duration:g} s counted.
calls/s counts served calls; "shed" counts calls refused with RESOURCE_EXHAUSTED (load
shedding; the caller backs off 1 ms and calls again). CPU in cores over the counted
window: the server's processes, the client processes, and everything else on the machine
("server us/call": server CPU microseconds per served call)
(other work running at the same time; the figures are only clean when it is near 0).

| processes | calls/s | vs first | p50 ms | p99 ms | shed | server us/call | CPU: server \
| clients | other |
|---|---|---|---|---|---|---|---|---|---|
{rows}

{verdict}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="counted seconds per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per run")
    parser.add_argument("--callers", type=int, default=32, help="concurrent callers")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2],
                        help="server process counts to run, the first is the baseline")
    parser.add_argument("--api", choices=("aio", "sync"), default="sync",
                        help="client API: grpc.aio coroutines or blocking calls in threads")
    parser.add_argument("--out", default=None, help="also write the table to this file")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= args.callers:
        parser.error(f"--clients must be in [1, --callers={args.callers}], got {args.clients}")
    runs = []
    for n in args.processes:
        runs.append(measure(n, args.callers, args.clients, args.warmup, args.duration,
                            args.api))
        print(f"processes {n}: {runs[-1]['rate']:,.0f} calls/s", file=sys.stderr)
    text = report(runs, args)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
