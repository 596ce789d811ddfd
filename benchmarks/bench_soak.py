"""A soak test of one landsim server process: mixed traffic for minutes, then a health verdict.

Starts ``python -m landsim_server`` on 127.0.0.1 port 0 with two job workers, then runs,
for ``--minutes`` (default 10), client threads with blocking stubs and the
``landsim_client`` library, every call with a deadline and never retried:

- Evaluate (one point; batches with or without gradients) and StreamEvaluate;
- Section (plane or line), Project, Intersect and short Descend runs;
- CreateLandscape / GetLandscape / ListLandscapes / DeleteLandscape;
- two job threads: CreateJob (toy E1/E5 jobs of a few seconds), CancelJob on a quarter of
  them, WatchJob to the end, GetJob, GetJobResult of the successful ones, DeleteJob of some,
  ListJobs (and cancelling the jobs the fuzzer created);
- fuzzed calls of every RPC (tests/server/fuzz_kit.py, checked by its ``problems``);
- a killer that SIGKILLs one job worker (a multiprocessing child of the server) every
  ``--kill-every`` seconds (default 30; at most a quarter of the run);
- a health probe (grpc.health.v1 Check every 0.5 s).

The server's RSS (VmRSS) and open file descriptors are sampled every 10 s. At the end the
traffic stops, queued jobs get up to 60 s to finish, and the script prints the calls per
RPC (status codes, p50/p99 latency), health, RSS and fds at the start, at the mark (minute
2, or 20% of a run shorter than 10 minutes) and at the end, worker kills, the jobs' fates,
and PASS/FAIL checks: only codes documented in docs/service.md (UNKNOWN and INTERNAL
never), no fuzz problem, no job lost, RSS growth mark -> end < 10%, fds at the end <= fds
at the mark + 8, health always SERVING, the server alive and no ERROR or traceback in its
log. Exit status 1 if a check fails. Loopback only; the server is stopped by its pid.

    python benchmarks/bench_soak.py [--minutes 10] [--seed 1] [--json soak.json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
from landsim_wire.v1 import jobs_pb2, jobs_pb2_grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "server"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import soak_traffic as st  # noqa: E402
from fuzz_kit import allowed_codes  # noqa: E402

DIM, N_WEDGES = 8, 4  # the shared landscape of the evaluation and geometry threads
FUZZ_DIM = 6
SAMPLE_S = 10.0
# Descriptors the server may open between the mark and the end without leaking: a
# replacement worker's pipes and sentinel while the killed one's are not yet closed (2
# workers x 2), SQLite's database/-wal/-shm handles of a connection opened lazily by a new
# thread of a pool (3), and a client connection being re-established (1).
FD_SLACK = 8
RSS_GROWTH = 0.10
EXPECTED = {"OK", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "NOT_FOUND",
            "FAILED_PRECONDITION"}  # what valid requests may get under this traffic


def _start(data_dir: str, log) -> tuple[subprocess.Popen, str]:
    # the log goes to a file: a pipe nobody reads fills up and blocks the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "landsim_server", "--port", "0", "--host", "127.0.0.1",
         "--data-dir", data_dir, "--workers", "2", "--log-level", "WARNING"],
        stdout=subprocess.PIPE, stderr=log, text=True)
    line = proc.stdout.readline()
    if "listening on" not in line:
        _stop(proc)
        raise RuntimeError(f"the server did not start: {line!r}")
    return proc, line.rsplit(" ", 1)[1].strip()


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server we started, wait, SIGKILL it (and its workers) if it hangs."""
    if proc.poll() is None:
        workers = st.worker_pids(proc.pid)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
            for pid in workers:
                if st._ppid(pid) in (proc.pid, 1):
                    os.kill(pid, signal.SIGKILL)
    if proc.stdout is not None:
        proc.stdout.close()


def _sample(pid: int, t0: float) -> dict:
    rss = next((int(line.split()[1]) for line in
                Path(f"/proc/{pid}/status").read_text().splitlines()
                if line.startswith("VmRSS:")), 0)
    return {"t_s": round(time.monotonic() - t0, 1), "rss_mib": round(rss / 1024, 1),
            "fds": len(os.listdir(f"/proc/{pid}/fd"))}


def _drain(address: str, book: st.JobBook, limit_s: float) -> None:
    """Wait up to ``limit_s`` for our queued and running jobs to end."""
    end = time.monotonic() + limit_s
    with grpc.insecure_channel(address) as channel:
        stub = jobs_pb2_grpc.JobServiceStub(channel)
        while time.monotonic() < end:
            try:
                page = stub.ListJobs(jobs_pb2.ListJobsRequest(
                    states=[jobs_pb2.JOB_STATE_QUEUED, jobs_pb2.JOB_STATE_RUNNING],
                    page_size=500), timeout=st.CALL_S)
            except grpc.RpcError:
                return
            if not set(book.created) & {job.id for job in page.jobs}:
                return
            time.sleep(1.0)


def _run(proc, address: str, args, t0: float) -> dict:
    """The traffic, the samples and the job bookkeeping of one soak; returns the facts."""
    duration = args.minutes * 60.0
    mark_s = 120.0 if duration >= 600 else 0.2 * duration
    stats, book, kills = st.Stats(), st.JobBook(), []
    health = {"checks": 0, "max_ms": 0.0, "latencies": [], "bad": []}
    with st.new_client(address) as client:
        land = client.create_landscape(dim=DIM, n_wedges=N_WEDGES, n_short=[3],
                                       seed=args.seed, timeout=60)
        fuzz_land = client.create_landscape(dim=FUZZ_DIM, n_wedges=3, n_short=[2],
                                            seed=args.seed, timeout=60)
    stop, killer_stop = threading.Event(), threading.Event()
    seed = args.seed * 1000
    threads = [
        threading.Thread(target=st.evaluate_loop, args=(address, land, DIM, stats, stop,
                                                        seed + 1)),
        threading.Thread(target=st.geometry_loop, args=(address, land, DIM, N_WEDGES, stats,
                                                        stop, seed + 2)),
        threading.Thread(target=st.crud_loop, args=(address, stats, stop, seed + 3)),
        threading.Thread(target=st.jobs_loop, args=(address, book, stats, stop, seed + 4)),
        threading.Thread(target=st.jobs_loop, args=(address, book, stats, stop, seed + 5)),
        threading.Thread(target=st.fuzz_loop, args=(address, fuzz_land, FUZZ_DIM, stats,
                                                    stop, seed + 6)),
        threading.Thread(target=st.health_loop, args=(address, 0.5, health, stop)),
    ]
    kill_every = min(args.kill_every, duration / 4)
    killer = threading.Thread(target=st.killer_loop, args=(proc.pid, kill_every, kills,
                                                           killer_stop, seed + 7))
    samples = [_sample(proc.pid, t0)]
    start = time.monotonic()
    for thread in threads + [killer]:
        thread.daemon = True
        thread.start()
    mark, next_sample, died = None, SAMPLE_S, False
    while (elapsed := time.monotonic() - start) < duration:
        if proc.poll() is not None:
            died = True
            break
        if elapsed >= next_sample:
            samples.append(_sample(proc.pid, t0))
            next_sample += SAMPLE_S
        if mark is None and elapsed >= mark_s:
            mark = _sample(proc.pid, t0)
            samples.append(mark)
        time.sleep(min(0.5, max(0.0, duration - elapsed)))
    killer_stop.set()
    stop.set()
    end_by = time.monotonic() + st.WATCH_S + 30
    for thread in [killer] + threads:
        thread.join(max(0.0, end_by - time.monotonic()))
    hung = [t.name for t in threads if t.is_alive()]
    if not died:
        _drain(address, book, 60.0)
        with st.new_client(address) as client:  # the shared landscape is still there
            stats.call("GetLandscape", client.get_landscape, land)
        end = _sample(proc.pid, t0)
        samples.append(end)
    else:
        end = samples[-1]
    jobs = st.classify_jobs(address, book, stats) if not died else {
        "created": len(book.created), "counts": {}, "lost": ["the server died"],
        "watched": dict(book.watched), "foreign_cancelled": book.foreign_cancelled}
    return {"seconds": round(time.monotonic() - start, 1), "mark_s": mark_s,
            "per_rpc": stats.per_rpc(), "samples_msg": stats.samples,
            "fuzz_problems": stats.fuzz_problems, "health": health, "kills": len(kills),
            "kill_every_s": kill_every, "samples": samples, "start": samples[0],
            "mark": mark or samples[-1], "end": end, "jobs": jobs, "died": died,
            "hung_threads": hung}


def _checks(facts: dict, bad_log: list[str], exit_status) -> list[tuple[str, bool, str]]:
    documented = {c.name for c in allowed_codes()} | {"DEADLINE_EXCEEDED",
                                                      "RESOURCE_EXHAUSTED"}
    undocumented = [f"{rpc} {code} x{n}" for rpc, row in facts["per_rpc"].items()
                    for code, n in row["codes"].items() if code not in documented]
    mark, end, health = facts["mark"], facts["end"], facts["health"]
    growth = end["rss_mib"] / mark["rss_mib"] - 1 if mark["rss_mib"] else float("nan")
    return [
        ("only documented status codes (never UNKNOWN/INTERNAL)", not undocumented,
         "; ".join(undocumented) or "none outside the docs"),
        ("fuzz checker found no problem", not facts["fuzz_problems"],
         f"{len(facts['fuzz_problems'])} problems"),
        ("no job lost", not facts["jobs"]["lost"], f"{len(facts['jobs']['lost'])} lost"),
        (f"RSS growth mark -> end < {RSS_GROWTH:.0%}", growth < RSS_GROWTH,
         f"{mark['rss_mib']:.0f} -> {end['rss_mib']:.0f} MiB ({growth:+.1%})"),
        (f"fds at the end <= fds at the mark + {FD_SLACK}", end["fds"] <= mark["fds"] + FD_SLACK,
         f"{mark['fds']} -> {end['fds']}"),
        ("health always SERVING", health["checks"] > 0 and not health["bad"],
         f"{health['checks']} checks, {len(health['bad'])} not SERVING"),
        ("server alive, every client thread ended", not facts["died"]
         and not facts["hung_threads"], "died" if facts["died"] else
         (", ".join(facts["hung_threads"]) or "yes")),
        ("no ERROR/traceback in the server log", not bad_log, f"{len(bad_log)} lines"),
        ("server stopped cleanly on SIGTERM", exit_status == 0, f"exit status {exit_status}"),
    ]


def _print(facts: dict, checks, bad_log: list[str], args) -> None:
    per_rpc = facts["per_rpc"]
    total = sum(row["calls"] for row in per_rpc.values())
    print(f"soak: {facts['seconds']:.0f} s of traffic (--minutes {args.minutes:g}), "
          f"seed {args.seed}, server 127.0.0.1 with 2 job workers")
    print(f"{'RPC':26s} {'calls':>7s} {'p50 ms':>8s} {'p99 ms':>8s}  status codes")
    for rpc, row in per_rpc.items():
        codes = ", ".join(f"{c} {n}" for c, n in row["codes"].items())
        print(f"{rpc:26s} {row['calls']:7d} {row['p50_ms']:8.1f} {row['p99_ms']:8.1f}  {codes}")
    print(f"{'total':26s} {total:7d}")
    health = facts["health"]
    lat = health["latencies"]
    print(f"health: {health['checks']} checks, p50 {1e3 * st.percentile(lat, 0.5):.1f} ms, "
          f"max {health['max_ms']:.1f} ms, not SERVING: {health['bad'][:5] or 'none'}")
    s, m, e = facts["start"], facts["mark"], facts["end"]
    print(f"server RSS MiB: start {s['rss_mib']:.0f}, mark ({m['t_s']:.0f} s) "
          f"{m['rss_mib']:.0f}, end {e['rss_mib']:.0f}; open fds: {s['fds']}, {m['fds']}, "
          f"{e['fds']}")
    print("  every 10 s (t: MiB/fds): " + " ".join(
        f"{x['t_s']:.0f}:{x['rss_mib']:.0f}/{x['fds']}" for x in facts["samples"]))
    jobs = facts["jobs"]
    c = jobs["counts"]
    pending = c.get("QUEUED", 0) + c.get("RUNNING", 0)
    print(f"worker kills: {facts['kills']} (one every ~{facts['kill_every_s']:.0f} s)")
    print(f"jobs: created {jobs['created']}, succeeded {c.get('SUCCEEDED', 0)}, failed "
          f"{c.get('FAILED', 0)} ({c.get('failed by kills', 0)} by kills), cancelled "
          f"{c.get('CANCELLED', 0)}, still queued/running {pending}"
          f", deleted by us {c.get('deleted', 0)}, restarted after a kill "
          f"{c.get('restarted', 0)}, lost {len(jobs['lost'])}; fuzz-created "
          f"jobs cancelled {jobs['foreign_cancelled']}")
    for line in jobs["lost"][:10]:
        print("  lost: " + line)
    odd = [(k, v) for k, v in facts["samples_msg"].items()
           if not k[0].startswith("fuzz/") and k[1] not in EXPECTED]
    for (rpc, code), message in odd[:10]:
        print(f"  note: {rpc} {code} on a valid request: {message}")
    for line in (facts["fuzz_problems"] + bad_log)[:10]:
        print("  " + line[:300])
    print("checks:")
    for name, ok, detail in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {detail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kill-every", type=float, default=30.0,
                        help="seconds between worker kills (default: %(default)s)")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the facts")
    args = parser.parse_args(argv)
    if not 0 < args.minutes <= 24 * 60:
        parser.error("--minutes must be in ]0, 1440]")
    if not args.kill_every > 0:
        parser.error("--kill-every must be > 0")
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as data_dir, tempfile.TemporaryFile("w+") as log:
        proc, address = _start(data_dir, log)
        try:
            facts = _run(proc, address, args, t0)
        finally:
            _stop(proc)
            log.seek(0)
            stderr = log.read()
    bad_log = [line for line in stderr.splitlines()
               if " ERROR " in line or line.startswith("ERROR") or "Traceback" in line]
    checks = _checks(facts, bad_log, proc.returncode)
    _print(facts, checks, bad_log, args)
    if args.json:
        facts = dict(facts, samples_msg={f"{r} {c}": m for (r, c), m in
                                         facts["samples_msg"].items()},
                     checks=[{"name": n, "pass": ok, "detail": d} for n, ok, d in checks],
                     server_log_errors=bad_log[:50], server_exit_status=proc.returncode)
        facts["health"] = {k: v for k, v in facts["health"].items() if k != "latencies"}
        Path(args.json).write_text(json.dumps(facts, indent=1, default=str))
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
