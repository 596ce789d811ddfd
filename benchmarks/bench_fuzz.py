"""The request fuzz of tests/server/test_fuzz.py at scale, against a real server process.

Starts ``python -m landsim_server`` on 127.0.0.1 port 0 (no job workers, 256 KiB
messages, 5000 points a call), creates one landscape (D = 6), sends ``--requests``
fuzzed calls (default 20,000; every RPC of both services in turn, built from the
descriptors, plus raw random bodies; seeded) and prints the count per status code, the
per-method breakdown, the time, any problem the checker found (an undocumented code, an
INVALID_ARGUMENT without a BadRequest field), lines the server logged at ERROR or with a
traceback, and the server's peak RSS (``VmHWM``). Exit status 1 if anything was wrong.

    python benchmarks/bench_fuzz.py [--requests 20000] [--seed 1]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from landsim_wire.v1 import landscape_pb2 as pb
from landsim_wire.v1 import landscape_pb2_grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "server"))
from fuzz_kit import RequestFuzzer, allowed_codes, run_fuzz  # noqa: E402

DIM = 6


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _start(data_dir: str, log) -> tuple[subprocess.Popen, str]:
    # the log goes to a file: a pipe nobody reads fills up and blocks the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "landsim_server", "--port", "0", "--data-dir", data_dir,
         "--workers", "0", "--max-message-bytes", str(256 << 10), "--max-points", "5000",
         "--log-level", "WARNING"],
        stdout=subprocess.PIPE, stderr=log, text=True)
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise RuntimeError(f"the server did not start: {line!r}")
    return proc, line.rsplit(" ", 1)[1].strip()


def _wait_serving(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for _ in range(12000):
        try:
            if health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == \
                    health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.RpcError:
            pass
        time.sleep(0.05)
    raise RuntimeError("the server never became SERVING")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as data_dir, \
            tempfile.TemporaryFile("w+") as log:
        proc, address = _start(data_dir, log)
        try:
            with grpc.insecure_channel(address) as channel:
                _wait_serving(channel)
                rss_idle = _peak_rss_mib(proc.pid)
                stub = landscape_pb2_grpc.LandscapeServiceStub(channel)
                land = stub.CreateLandscape(pb.CreateLandscapeRequest(
                    random=pb.RandomLandscapeParams(dim=DIM, n_wedges=3, n_short=[2],
                                                    seed=1)))
                report = run_fuzz(channel, RequestFuzzer(args.seed, land.id, DIM),
                                  args.requests, allowed_codes())
                rss = _peak_rss_mib(proc.pid)
                stub.GetLandscape(pb.GetLandscapeRequest(id=land.id), timeout=10)
        finally:
            proc.terminate()
            proc.communicate(timeout=60)
            log.seek(0)
            stderr = log.read()
    bad_log = [line for line in stderr.splitlines()
               if " ERROR " in line or line.startswith("ERROR") or "Traceback" in line]
    print(f"requests: {report.requests} in {report.seconds:.1f} s "
          f"({report.requests / report.seconds:.0f}/s), seed {args.seed}")
    print("codes: " + ", ".join(f"{k} {v}" for k, v in sorted(report.codes.items())))
    for (method, code), count in sorted(report.by_method.items()):
        print(f"  {method:16s} {code:20s} {count}")
    print(f"server peak RSS: {rss:.0f} MiB (after start-up: {rss_idle:.0f} MiB)")
    print(f"health not SERVING: {report.not_serving} checks; problems: "
          f"{len(report.problems)}; ERROR/traceback log lines: {len(bad_log)}")
    for line in (report.problems + bad_log)[:20]:
        print("  " + line[:300])
    return 1 if report.problems or report.not_serving or bad_log else 0


if __name__ == "__main__":
    sys.exit(main())
