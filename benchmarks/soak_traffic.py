"""The traffic of benchmarks/bench_soak.py: call statistics, the client threads (landscape
calls, jobs, fuzz), the worker killer and the health prober.

Every loop runs until its ``stop`` event is set; every call has a deadline and is recorded
in :class:`Stats` under its RPC name (fuzzed calls as ``fuzz/<Method>``) with its status
code and latency. Errors never end a loop: they are what the soak counts.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np
from fuzz_kit import RequestFuzzer, allowed_codes, problems, send
from grpc_health.v1 import health_pb2, health_pb2_grpc
from landsim_client import Client, LandsimError, RetryPolicy
from landsim_wire.v1 import jobs_pb2, jobs_pb2_grpc

CALL_S = 10.0  # deadline of every call but WatchJob
WATCH_S = 120.0  # a job may wait behind others and be restarted after a kill
FINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}
TINY_E1 = {"n_starts": 2, "dim": 200, "n_short": 20, "steps": 50, "line_points": 11}


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of ``values`` by the nearest rank; NaN for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


class Stats:
    """Thread-safe counts and latencies per RPC and status code."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.codes: Counter = Counter()  # (rpc, code name) -> calls
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.samples: dict[tuple, str] = {}  # (rpc, code) -> first error message
        self.fuzz_problems: list[str] = []

    def record(self, rpc: str, code: str, seconds: float, message: str = "") -> None:
        with self.lock:
            self.codes[rpc, code] += 1
            self.latency[rpc].append(seconds)
            if code != "OK":
                self.samples.setdefault((rpc, code), message[:300])

    def call(self, rpc: str, fn, *args, **kwargs):
        """Run ``fn`` (one whole call, streams drained by ``fn``) and record it; returns its
        value, or None when it failed."""
        t0 = time.perf_counter()
        try:
            out = fn(*args, **kwargs)
        except grpc.RpcError as exc:
            self.record(rpc, exc.code().name, time.perf_counter() - t0, exc.details() or "")
            return None
        except LandsimError as exc:
            self.record(rpc, exc.code.name, time.perf_counter() - t0, str(exc))
            return None
        self.record(rpc, "OK", time.perf_counter() - t0)
        return out

    def per_rpc(self) -> dict[str, dict]:
        """{rpc: {calls, codes {name: n}, p50_ms, p99_ms}}."""
        with self.lock:
            out = {}
            for rpc, lat in sorted(self.latency.items()):
                codes = {c: n for (r, c), n in self.codes.items() if r == rpc}
                out[rpc] = {"calls": len(lat), "codes": dict(sorted(codes.items())),
                            "p50_ms": 1e3 * percentile(lat, 0.5),
                            "p99_ms": 1e3 * percentile(lat, 0.99)}
            return out


def new_client(address: str) -> Client:
    """A client that never retries (every attempt is one recorded call)."""
    return Client(address, timeout=CALL_S, retry=RetryPolicy(max_attempts=1))


def _loop(stop: threading.Event, pause_s: float, step) -> None:
    while not stop.is_set():
        step()
        stop.wait(pause_s)


# ---------------------------------------------------------------------- landscapes
def evaluate_loop(address: str, landscape: str, dim: int, stats: Stats,
                  stop: threading.Event, seed: int) -> None:
    """Evaluate one point or a batch (with or without gradients), or StreamEvaluate."""
    rng = np.random.default_rng(seed)
    with new_client(address) as client:
        def step() -> None:
            kind = rng.integers(4)
            if kind == 0:
                stats.call("Evaluate", client.evaluate, landscape, rng.normal(size=dim))
            elif kind == 1:
                stats.call("Evaluate", client.evaluate, landscape,
                           rng.normal(size=(int(rng.integers(2, 200)), dim)),
                           gradient=bool(rng.integers(2)), wedge_losses=bool(rng.integers(2)))
            else:  # several chunks of whole rows each way
                X = rng.normal(size=(int(rng.integers(500, 4000)), dim))
                stats.call("StreamEvaluate", client.stream_evaluate, landscape, X,
                           gradient=bool(rng.integers(2)), chunk_bytes=8 << 10)
        _loop(stop, 0.02, step)


def geometry_loop(address: str, landscape: str, dim: int, n_wedges: int, stats: Stats,
                  stop: threading.Event, seed: int) -> None:
    """Section (plane or line), Project, Intersect and short Descend runs."""
    rng = np.random.default_rng(seed)

    def descend(client: Client) -> None:
        run = client.descend(landscape, radius=2.0, n=int(rng.integers(1, 8)),
                             init_seed=int(rng.integers(1000)), steps=int(rng.integers(5, 60)),
                             lr=0.05, record_every=5, timeout=CALL_S)
        for _ in run:
            pass

    with new_client(address) as client:
        def step() -> None:
            kind = rng.integers(5)
            if kind == 0:
                stats.call("Section", client.section, landscape, "plane",
                           origin=rng.normal(size=dim), d1=rng.normal(size=dim),
                           d2=rng.normal(size=dim), extent=2.0,
                           resolution=int(rng.integers(5, 40)))
            elif kind == 1:
                stats.call("Section", client.section, landscape, "line",
                           a=rng.normal(size=dim), b=rng.normal(size=dim),
                           num_t=int(rng.integers(2, 200)))
            elif kind == 2:
                X = rng.normal(size=(int(rng.integers(1, 50)), dim))
                if rng.integers(2):
                    stats.call("Project", client.project, landscape, X,
                               wedge=int(rng.integers(n_wedges)))
                else:
                    stats.call("Project", client.project, landscape, X, intersection=[0, 1])
            elif kind == 3:
                stats.call("Intersect", client.intersect, landscape, [0, 1],
                           seed=int(rng.integers(100)))
            else:
                stats.call("Descend", descend, client)
        _loop(stop, 0.05, step)


def crud_loop(address: str, stats: Stats, stop: threading.Event, seed: int) -> None:
    """CreateLandscape / GetLandscape / ListLandscapes / DeleteLandscape on landscapes of
    their own (dimension 5: ids never equal the shared landscapes' ones)."""
    rng = random.Random(seed)
    alive: list[str] = []
    with new_client(address) as client:
        def step() -> None:
            kind = rng.random()
            if kind < 0.3 or not alive:
                lid = stats.call("CreateLandscape", client.create_landscape, dim=5,
                                 n_wedges=rng.randint(1, 6), n_short=[2],
                                 seed=rng.randrange(10**9))
                if lid and lid not in alive:
                    alive.append(lid)
            elif kind < 0.55:
                stats.call("GetLandscape", client.get_landscape, rng.choice(alive),
                           include_spec=rng.random() < 0.5)
            elif kind < 0.75:
                stats.call("ListLandscapes",
                           lambda: list(client.list_landscapes(page_size=rng.randint(0, 7))))
            elif kind < 0.95 or len(alive) > 8:
                lid = alive.pop(rng.randrange(len(alive)))
                stats.call("DeleteLandscape", client.delete_landscape, lid)
                if rng.random() < 0.3:  # NOT_FOUND, documented
                    stats.call("GetLandscape", client.get_landscape, lid)
        _loop(stop, 0.1, step)
        for lid in alive:
            stats.call("DeleteLandscape", client.delete_landscape, lid)


# ---------------------------------------------------------------------- jobs
@dataclass
class JobBook:
    """The jobs this soak created, and what it did to them."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    created: list[str] = field(default_factory=list)
    cancelled: set[str] = field(default_factory=set)  # CancelJob asked by us
    deleted: set[str] = field(default_factory=set)  # DeleteJob OK by us
    watched: Counter = field(default_factory=Counter)  # final state seen by WatchJob
    foreign_cancelled: int = 0  # jobs the fuzzer created, cancelled to free the workers


def _watch(stub, job_id: str) -> str:
    state = ""
    for event in stub.WatchJob(jobs_pb2.WatchJobRequest(job_id=job_id, heartbeat_s=1.0),
                               timeout=WATCH_S):
        state = jobs_pb2.JobState.Name(event.job.state).removeprefix("JOB_STATE_")
        if state in FINAL:
            break
    return state


def jobs_loop(address: str, book: JobBook, stats: Stats, stop: threading.Event,
              seed: int) -> None:
    """Create a toy job (a second or a few), cancel some, watch it to its end, fetch the
    result of those that succeeded (delete some), and list/get jobs; also cancel the jobs
    the fuzzer managed to create, so that they do not hold the two workers."""
    rng = random.Random(seed)
    with new_client(address) as client, grpc.insecure_channel(address) as channel:
        stub = jobs_pb2_grpc.JobServiceStub(channel)

        def cancel_foreign() -> None:
            listed = stats.call("ListJobs", stub.ListJobs, jobs_pb2.ListJobsRequest(
                states=[jobs_pb2.JOB_STATE_QUEUED, jobs_pb2.JOB_STATE_RUNNING],
                page_size=100), timeout=CALL_S)
            with book.lock:
                ours = set(book.created)
            old = time.time() - 5.0  # ours are in the book well before that
            for job in listed.jobs if listed else []:
                if job.id not in ours and job.create_time.seconds < old and stats.call(
                        "CancelJob", stub.CancelJob, jobs_pb2.CancelJobRequest(job_id=job.id),
                        timeout=CALL_S) is not None:
                    with book.lock:
                        book.foreign_cancelled += 1

        def step() -> None:
            if rng.random() < 0.5:
                experiment, config = "E1", dict(TINY_E1, steps=rng.randint(20, 80))
            else:
                experiment, config = "E5", {"n_sections": rng.randint(3, 12)}
            request = jobs_pb2.CreateJobRequest(
                experiment_id=experiment, config_json=json.dumps(config), quick=True,
                seed=rng.randrange(2**31), request_id=uuid.uuid4().hex,
                replicate=rng.randrange(3), arm=rng.choice([1, 2]),
                max_attempts=rng.choice([0, 0, 1, 2]))  # 1: one kill fails it
            job = stats.call("CreateJob", stub.CreateJob, request, timeout=CALL_S)
            if job is None:
                return
            with book.lock:
                book.created.append(job.id)
            if rng.random() < 0.25:
                stop.wait(rng.uniform(0, 1.5))
                with book.lock:  # before the call: it may cancel and still time out
                    book.cancelled.add(job.id)
                stats.call("CancelJob", stub.CancelJob,
                           jobs_pb2.CancelJobRequest(job_id=job.id), timeout=CALL_S)
            state = stats.call("WatchJob", _watch, stub, job.id)
            with book.lock:
                book.watched[state or "watch failed"] += 1
            stats.call("GetJob", client.get_job, job.id)
            if state == "SUCCEEDED":
                stats.call("GetJobResult", client.result, job.id,
                           chunk_bytes=rng.choice([0, 1024, 4096]))
                if rng.random() < 0.2 and stats.call(
                        "DeleteJob", stub.DeleteJob, jobs_pb2.DeleteJobRequest(job_id=job.id),
                        timeout=CALL_S) is not None:
                    with book.lock:
                        book.deleted.add(job.id)
            if rng.random() < 0.3:
                cancel_foreign()
        _loop(stop, 0.5, step)


def classify_jobs(address: str, book: JobBook, stats: Stats) -> dict:
    """Final state of every job we created; ``lost`` lists those NOT_FOUND (not deleted by
    us), FAILED other than by using up their attempts on our kills, or CANCELLED without
    our asking."""
    counts: Counter = Counter()
    lost: list[str] = []
    with new_client(address) as client:
        for job_id in book.created:
            if job_id in book.deleted:
                counts["deleted"] += 1
                continue
            try:
                job = client.get_job(job_id, timeout=CALL_S)
            except LandsimError as exc:
                counts["lookup failed"] += 1
                lost.append(f"{job_id}: GetJob {exc.code.name}: {exc.message[:150]}")
                continue
            counts[job.state] += 1
            counts["restarted"] += job.attempts > 1
            killed = (job.error.startswith("worker lost") and "SIGKILL" in job.error
                      and job.attempts >= job.max_attempts)
            if job.state == "FAILED" and not killed:
                lost.append(f"{job_id}: FAILED after {job.attempts}/{job.max_attempts} "
                            f"attempts: {job.error[:200]!r}")
            elif job.state == "FAILED":
                counts["failed by kills"] += 1
            elif job.state == "CANCELLED" and job_id not in book.cancelled:
                lost.append(f"{job_id}: CANCELLED without a CancelJob from us")
    return {"created": len(book.created), "counts": dict(counts), "lost": lost,
            "watched": dict(book.watched), "foreign_cancelled": book.foreign_cancelled}


# ---------------------------------------------------------------------- fuzz
def fuzz_loop(address: str, landscape: str, dim: int, stats: Stats, stop: threading.Event,
              seed: int) -> None:
    """Fuzzed calls (tests/server/fuzz_kit.py), every method in turn, checked by
    ``problems``; recorded as ``fuzz/<Method>``."""
    fuzzer = RequestFuzzer(seed, landscape, dim)
    allowed = allowed_codes()
    count = 0
    with grpc.insecure_channel(address) as channel:
        def step() -> None:
            nonlocal count
            path, method = fuzzer.methods[count % len(fuzzer.methods)]
            count += 1
            t0 = time.perf_counter()
            outcome = send(channel, path, method, fuzzer.bodies(method), CALL_S)
            stats.record(f"fuzz/{method.name}", outcome.code.name, time.perf_counter() - t0,
                         outcome.message)
            found = problems(outcome, allowed)
            if found:
                with stats.lock:
                    stats.fuzz_problems += found
        _loop(stop, 0.05, step)


# ---------------------------------------------------------------------- processes
def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # the name may hold spaces and ")"


def worker_pids(server_pid: int) -> list[int]:
    """The server's multiprocessing ``spawn`` children (its job workers; not the
    resource tracker, which is a child too)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or _ppid(int(entry)) != server_pid:
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline and b"--multiprocessing-fork" in cmdline:
            pids.append(int(entry))
    return sorted(pids)


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def killer_loop(server_pid: int, every_s: float, kills: list, stop: threading.Event,
                seed: int) -> None:
    """Every ``every_s`` seconds (jittered), SIGKILL one job worker of the server: one
    that is computing (a job) if there is one, so that kills hit running jobs."""
    rng = random.Random(seed)
    while not stop.wait(every_s * rng.uniform(0.7, 1.3)):
        pids = worker_pids(server_pid)
        if not pids:
            continue
        before = {pid: _cpu_ticks(pid) for pid in pids}
        time.sleep(0.3)
        busy = [pid for pid in pids if _cpu_ticks(pid) - before[pid] >= 5]  # >= 1/6 CPU
        pid = rng.choice(busy or pids)
        if _ppid(pid) != server_pid:  # gone (and maybe reused) since the scan
            continue
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        kills.append((time.monotonic(), pid))


def health_loop(address: str, every_s: float, out: dict, stop: threading.Event) -> None:
    """grpc.health.v1 Check every ``every_s``: counts, max latency, anything not SERVING."""
    with grpc.insecure_channel(address) as channel:
        check = health_pb2_grpc.HealthStub(channel).Check
        while not stop.wait(every_s):
            t0 = time.perf_counter()
            try:
                status = health_pb2.HealthCheckResponse.ServingStatus.Name(
                    check(health_pb2.HealthCheckRequest(), timeout=5).status)
            except grpc.RpcError as exc:
                status = exc.code().name
            seconds = time.perf_counter() - t0
            out["checks"] += 1
            out["max_ms"] = max(out["max_ms"], 1e3 * seconds)
            out["latencies"].append(seconds)
            if status != "SERVING":
                out["bad"].append(f"{time.strftime('%H:%M:%S')} {status}")
