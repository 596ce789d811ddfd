"""Wall time of the claims suite, end to end, against the issue's targets.

Runs ``landsim reproduce`` as a user would (a fresh process, warm Numba cache, the report
built at the end) for each asked suite, then reads the stored results to split the time by
claim and arm. Prints a Markdown table for benchmarks/RESULTS.md.

    python benchmarks/bench_claims.py                  # toy quick and toy default
    python benchmarks/bench_claims.py --suites real-quick
    python benchmarks/bench_claims.py --suites toy-quick,toy,real-quick --out /tmp/bench

Targets (issue "Claims that can fail and can pass"): toy default (5 replicates with
controls) <= 360 s on 2 cores, toy quick <= 90 s, real quick (2 replicates with controls)
<= 600 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from landsim.results import load_results  # noqa: E402
from landsim.verdicts import aggregate  # noqa: E402

#: suite name -> (reproduce arguments, target seconds)
SUITES = {
    "toy-quick": (["--quick"], 90.0),
    "toy": ([], 360.0),
    "real-quick": (["--real", "--quick"], 600.0),
    "real": (["--real"], None),
}


def run_suite(name: str, out: Path) -> dict:
    args, target = SUITES[name]
    cmd = [sys.executable, "-m", "landsim.cli", "reproduce", *args, "--out", str(out)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"{name}: landsim reproduce exited {proc.returncode}")
    results = load_results(out)
    per = defaultdict(lambda: {"claim": 0.0, "control": 0.0, "units": 0})
    for r in results:
        per[r.experiment][r.arm] += float(r.timings.get("total", 0.0))
        per[r.experiment]["units"] += 1
    status = {v.experiment: v for v in aggregate(results)}
    return {"name": name, "wall": wall, "target": target, "per": dict(per),
            "status": status, "n_units": len(results)}


def markdown(runs: list[dict]) -> str:
    lines = [f"Machine: {platform.machine()} {platform.system()}, {os.cpu_count()} cores, "
             f"Python {platform.python_version()}; load average before: "
             f"{os.getloadavg()[0]:.2f}", ""]
    for run in runs:
        target = run["target"]
        verdict = ("" if target is None else
                   f" (target <= {target:.0f} s: {'met' if run['wall'] <= target else 'MISSED'})")
        lines += [f"### {run['name']}: {run['wall']:.1f} s wall, {run['n_units']} units"
                  f"{verdict}", "",
                  "| claim | units | claim arm s | control arm s | status |",
                  "|---|---|---|---|---|"]
        for eid in sorted(run["per"]):
            p = run["per"][eid]
            v = run["status"].get(eid)
            counts = "" if v is None else f" ({v.evidence.split(';')[0]})"
            lines.append(f"| {eid} | {p['units']} | {p['claim']:.1f} | {p['control']:.1f} | "
                         f"{v.status if v else '-'}{counts} |")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", default="toy-quick,toy",
                        help=f"comma-separated, from {', '.join(SUITES)}")
    parser.add_argument("--out", default=None, help="where to keep the results")
    args = parser.parse_args()
    names = [s.strip() for s in args.suites.split(",") if s.strip()]
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        parser.error(f"unknown suite(s) {unknown}; valid: {list(SUITES)}")
    base = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench-claims-"))
    runs = [run_suite(n, base / n) for n in names]
    print(markdown(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
