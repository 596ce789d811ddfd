"""The executors on one sweep: serial, the local process pool and Ray, same units, same Results.

The sweep: ``--configs`` (default 8) configs of E2 (toy, ``quick_config()`` with eps1 =
0.001, 0.0015, ..., one value per config) x ``--units-per-config`` (default 8) seeds
(replicates 0..n-1 of root seed 0), claim arm only: 64 units of a few seconds each. It
runs three times:

- **serial**: :class:`landsim.executors.SerialExecutor`, one unit after another in this
  process, its kernels on 1 thread (as each worker of the other two: the baseline of one
  core);
- **local**: ``make_executor("local", workers=W)`` (default W = 2), pool start included;
- **ray**: ``make_executor("ray")``-style :class:`RayExecutor` on a one-node Ray cluster
  with W CPUs, started for the run inside its own network namespace (this script runs
  itself again under ``unshare -n``, see ``tests/ray_cluster.py``; the cluster is ended
  by process id afterwards). Timed from ``submit`` to the last Result, the cluster
  started and connected but its workers not yet warm (like the local pool's).

Then, on the same (now warm) cluster, the Ray executor's dispatch overhead: after a
warm-up batch, ``--dispatch-units`` (default 200) units with an empty ``task=`` (it
returns at once); reported as wall time / units, in ms.

Printed: a machine line, the three wall times, ray/local (target <= 1.15), serial/local
(target >= 1.7), the dispatch overhead (target < 20 ms) and whether the three executors'
metrics agree bit for bit on every unit. Exit status 1 if they do not (or a unit failed),
else 0, targets met or not.

Usage (from the repository root; the Ray part needs root for ``unshare -n``)::

    python benchmarks/bench_executors.py [--configs 8] [--units-per-config 8]
                                         [--workers 2] [--dispatch-units 200]
                                         [--skip-ray] [--out FILE]

A smoke run: ``--configs 2 --units-per-config 2 --dispatch-units 50``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from landsim.executors import SerialExecutor, make_executor  # noqa: E402
from landsim.executors.base import Finished  # noqa: E402
from landsim.threads import kernel_threads  # noqa: E402
from landsim.units import Unit, experiment_module  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_description  # noqa: E402

TARGET_RAY_OVER_LOCAL = 1.15
TARGET_SPEEDUP = 1.7
TARGET_DISPATCH_MS = 20.0
WARMUP_UNITS = 20
#: Variables that cap BLAS / OpenMP threads (printed: they change the local executor's speed)
BLAS_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
            "NUMBA_NUM_THREADS")


def build_units(configs: int, per_config: int) -> list[Unit]:
    """``configs`` E2 quick configs (eps1 = 0.001 + 0.0005 k) x ``per_config`` replicates."""
    base = experiment_module("E2", "toy").quick_config()
    units = []
    for k in range(configs):
        config = dataclasses.replace(base, eps1=0.001 + 0.0005 * k)
        units += [Unit("E2", "toy", config, seed=0, replicate=r, arm="claim")
                  for r in range(per_config)]
    return units


def empty_task(index: int, unit: Unit, node: str, progress) -> Finished:
    """The dispatch benchmark's ``task=``: runs nothing."""
    return Finished(index, unit, None, "", node, 0.0)


def machine_line() -> str:
    try:
        import ray
        ray_version = ray.__version__
    except ImportError:
        ray_version = "not installed"
    blas = " ".join(f"{k}={os.environ[k]}" for k in BLAS_ENV if k in os.environ) or "unset"
    return (f"machine: {cpu_description()}, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
            f"Ray {ray_version}; BLAS/OpenMP thread variables: {blas}")


def metrics_of(finished: list[Finished], n: int) -> tuple[list, list[str]]:
    """Each unit's metrics as exact hex floats (None if it failed), and the errors."""
    out: list = [None] * n
    errors = []
    for f in finished:
        if f.ok:
            out[f.index] = {k: float(v).hex() for k, v in f.result.metrics.items()}
        else:
            errors.append(f"unit {f.index}: {f.error.splitlines()[0] if f.error else '?'}")
    return out, errors


def sweep(executor, units: list[Unit]) -> tuple[float, list[Finished]]:
    t0 = time.perf_counter()
    done = list(executor.submit(units))
    return time.perf_counter() - t0, done


# --- the Ray part: run inside its own network namespace ------------------------------

def ray_part(args) -> int:
    from landsim.executors.ray_executor import RayExecutor
    from tests.ray_cluster import end_cluster, start_cluster

    report: dict = {}
    try:
        t0 = time.perf_counter()
        address = start_cluster(args.ray_part, head_cpus=args.workers)
        report["cluster_start_s"] = time.perf_counter() - t0
        import ray
        ray.init(address=address, log_to_driver=False, configure_logging=False)
        units = build_units(args.configs, args.units_per_config)
        with RayExecutor(address=address) as ex:
            wall, done = sweep(ex, units)
        report["wall_s"] = wall
        report["metrics"], report["errors"] = metrics_of(done, len(units))
        report["nodes"] = sorted({f.node for f in done})
        with RayExecutor(address=address, task=empty_task) as ex:
            warm = [units[i % len(units)] for i in range(WARMUP_UNITS)]
            report["warmup_s"], _ = sweep(ex, warm)
            many = [units[i % len(units)] for i in range(args.dispatch_units)]
            wall, done = sweep(ex, many)
        report["dispatch_wall_s"] = wall
        report["dispatch_units"] = len(done)
        ray.shutdown()
    finally:
        report["ended_pids"] = len(end_cluster(args.ray_part))
    print(json.dumps(report), flush=True)  # the one JSON line run_in_netns reads
    return 0


def run_ray(args) -> dict:
    from tests.ray_cluster import netns_problem, ray_importable, run_in_netns, short_temp_dir

    if not ray_importable():
        return {"skipped": 'Ray is not installed (pip install "landsim[ray]")'}
    problem = netns_problem()
    if problem is not None:
        return {"skipped": f"no network namespace for the cluster: {problem}"}
    temp_dir = short_temp_dir()
    try:
        argv = [sys.executable, str(Path(__file__).resolve()), "--ray-part", temp_dir,
                "--configs", str(args.configs),
                "--units-per-config", str(args.units_per_config),
                "--workers", str(args.workers), "--dispatch-units", str(args.dispatch_units)]
        timeout = 300 + 30 * len(build_units(args.configs, args.units_per_config))
        report = run_in_netns(argv, temp_dir, timeout, cwd=REPO)
        report["leftover_pids"] = len(report.pop("_leftover")) + len(report.pop("_remaining"))
        return report
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--configs", type=int, default=8)
    p.add_argument("--units-per-config", type=int, default=8)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--dispatch-units", type=int, default=200)
    p.add_argument("--skip-ray", action="store_true")
    p.add_argument("--out", help="also write the report (JSON) here")
    p.add_argument("--ray-part", help=argparse.SUPPRESS)  # internal: the namespaced run
    args = p.parse_args(argv)
    if min(args.configs, args.units_per_config, args.workers, args.dispatch_units) < 1:
        p.error("--configs, --units-per-config, --workers and --dispatch-units must be >= 1")
    if args.ray_part:
        return ray_part(args)

    units = build_units(args.configs, args.units_per_config)
    print(machine_line())
    print(f"sweep: {len(units)} units = E2 toy quick, {args.configs} configs (eps1) x "
          f"{args.units_per_config} replicates, claim arm; {args.workers} workers",
          flush=True)

    with kernel_threads(1):
        serial_s, serial_done = sweep(SerialExecutor(), units)
    print(f"serial: {serial_s:8.2f} s", flush=True)
    with make_executor("local", workers=args.workers) as ex:
        local_s, local_done = sweep(ex, units)
    print(f"local:  {local_s:8.2f} s  ({args.workers} workers)", flush=True)
    ray = {"skipped": "--skip-ray"} if args.skip_ray else run_ray(args)

    serial_m, errors = metrics_of(serial_done, len(units))
    local_m, local_errors = metrics_of(local_done, len(units))
    errors += local_errors
    failed = bool(errors)
    speedup = serial_s / local_s
    print(f"serial/local speed-up: {speedup:.2f} (target >= {TARGET_SPEEDUP}: "
          f"{'met' if speedup >= TARGET_SPEEDUP else 'MISSED'})")
    summary = {"machine": machine_line(), "units": len(units), "workers": args.workers,
               "serial_s": serial_s, "local_s": local_s, "speedup": speedup}
    agree = serial_m == local_m
    if "skipped" in ray:
        print(f"ray: skipped ({ray['skipped']})")
    else:
        errors += ray["errors"]
        failed = failed or bool(ray["errors"])
        ratio = ray["wall_s"] / local_s
        per_unit_ms = 1000 * ray["dispatch_wall_s"] / ray["dispatch_units"]
        agree = agree and ray["metrics"] == local_m
        print(f"ray:    {ray['wall_s']:8.2f} s  (1 node, {args.workers} CPUs; cluster start "
              f"{ray['cluster_start_s']:.1f} s, not counted)")
        print(f"ray/local wall time: {ratio:.2f} (target <= {TARGET_RAY_OVER_LOCAL}: "
              f"{'met' if ratio <= TARGET_RAY_OVER_LOCAL else 'MISSED'})")
        print(f"ray dispatch overhead: {per_unit_ms:.2f} ms/unit ({ray['dispatch_units']} "
              f"empty units in {ray['dispatch_wall_s']:.2f} s after {WARMUP_UNITS} warm-up; "
              f"target < {TARGET_DISPATCH_MS}: "
              f"{'met' if per_unit_ms < TARGET_DISPATCH_MS else 'MISSED'})")
        print(f"ray cluster ended by pid: {ray['ended_pids']} processes; left over after: "
              f"{ray['leftover_pids']}")
        summary.update(ray_s=ray["wall_s"], ray_over_local=ratio, dispatch_ms=per_unit_ms,
                       ray_cluster_start_s=ray["cluster_start_s"])
    executors = "serial, local" + ("" if "skipped" in ray else ", ray")
    print(f"metrics agree bit for bit ({executors}), all {len(units)} units: "
          f"{'yes' if agree and not failed else 'NO'}")
    for e in errors[:10]:
        print(f"  failed {e}")
    summary.update(metrics_agree=agree, errors=errors)
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=1))
    return 0 if agree and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
