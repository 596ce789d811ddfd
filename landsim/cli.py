"""The ``landsim`` command line.

``landsim demo`` builds a random wedge landscape and reports, from exact computation:
the short-direction count of m-wedge intersections beside D(1 - (1 - s/D)^m), descent to
the union, the barrier of a straight line between two optima beside the barrier of a
tunnel through their intersection, and the width of the low-loss set in a radial section.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

import numpy as np

from . import __version__, descent, geometry, paths
from .spec import random_landscape


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text}")
    return value


def _nonnegative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def run_demo(dim: int, n_wedges: int, n_short: int, eps0: float, eps1: float, radius: float,
             seed: int, log=print) -> dict:
    """Run the geometry demo and return its figures (also logged line by line).

    Returns
    -------
    dict
        ``intersections`` (m, exact count, expected count), ``descent`` (final losses,
        radii, wedges), ``tunnel`` (line and tunnel barriers), ``radial_section``
        (low-loss angular width per radius).
    """
    if n_short > dim:
        raise ValueError(f"n_short must be in [1, dim={dim}], got {n_short}")
    if n_wedges < 2:
        raise ValueError(f"n_wedges must be >= 2 for the tunnel demo, got {n_wedges}")
    out: dict = {"config": dict(dim=dim, n_wedges=n_wedges, n_short=n_short, eps0=eps0,
                                eps1=eps1, radius=radius, seed=seed)}
    t0 = time.perf_counter()
    spec = random_landscape(dim, n_wedges, n_short, eps0=eps0, eps1=eps1, seed=seed)
    geometry.evaluate(spec, np.zeros((1, dim)))  # compile or load the kernels
    log(f"landscape: D={dim}, K={n_wedges} axis-aligned wedges with s={n_short} short "
        f"directions, width {eps0} + {eps1} r (ready in {time.perf_counter() - t0:.1f} s)")

    log("\nm-wedge intersections (wedges 0..m-1): short directions, exact vs expected")
    rows = []
    for m in range(1, n_wedges + 1):
        inter = geometry.intersection(spec, range(m))
        expected = geometry.expected_short_count(dim, n_short, m)
        rows.append({"m": m, "short_count": inter.short_count, "expected": expected,
                     "long_dim": inter.long_dim})
        log(f"  m={m}: {inter.short_count:6d} short, expected {expected:9.1f}, "
            f"long dimension {inter.long_dim}")
    out["intersections"] = rows

    n_runs = 8
    x0 = descent.init_at_radius(dim, radius, n_runs, seed=seed)
    cfg = descent.DescentConfig(optimizer="gd", lr=0.2, steps=500, target_loss=1e-10,
                                record_every=50)
    t0 = time.perf_counter()
    traj = descent.descend(spec, x0, cfg, seed=seed)
    start_loss = traj.loss[0]
    final_wedge = traj.argmin[-1]
    out["descent"] = {"start_loss": start_loss.tolist(), "final_loss": traj.final_loss.tolist(),
                      "final_radius": traj.radius[-1].tolist(),
                      "final_wedge": final_wedge.tolist(), "reached": traj.reached.tolist()}
    log(f"\ndescent: {n_runs} gradient-descent runs from radius {radius} "
        f"({time.perf_counter() - t0:.1f} s)")
    log(f"  loss {np.median(start_loss):.3g} -> {np.median(traj.final_loss):.3g} (median); "
        f"{int(traj.reached.sum())}/{n_runs} reached loss <= {cfg.target_loss:g}; "
        f"final radius {np.median(traj.radius[-1]):.2f}; "
        f"wedges reached {sorted({int(k) for k in final_wedge})}")

    a = geometry.intersection_point(spec, [0], radius=radius, seed=seed + 1)
    b = geometry.intersection_point(spec, [1], radius=radius, seed=seed + 2)
    mid = geometry.project_onto_intersection(spec, [0, 1], 0.5 * (a + b))
    t = paths.as_t(129)
    line = paths.path_barrier(spec, paths.line(a, b, t), t)
    tunnel_points = np.stack([a, mid, b])
    tunnel = paths.path_barrier(spec, paths.chain(tunnel_points, t), t)
    out["tunnel"] = {"line_barrier": line.barrier, "tunnel_barrier": tunnel.barrier,
                     "loss_a": float(line.loss[0]), "loss_b": float(line.loss[-1])}
    log("\ntunnel between an optimum of wedge 0 and one of wedge 1:")
    log(f"  straight line barrier {line.barrier:.4g}; one-bend tunnel through their "
        f"intersection {tunnel.barrier:.4g}")

    e1, e2 = paths.random_plane(dim, seed=seed, containing=a)
    radii = np.linspace(0.0, 2.0 * radius, 9)
    angles = np.linspace(-np.pi, np.pi, 721)
    section = paths.radial_section(spec, np.zeros(dim), e1, e2, radii, angles)
    low = section.loss <= 1e-12
    widths = low.mean(axis=1) * 2 * np.pi * radii  # arc length of the low-loss set
    out["radial_section"] = {"radii": radii.tolist(), "low_loss_arc": widths.tolist()}
    log("\nradial section through the origin containing the wedge-0 optimum:")
    log("  radius   " + " ".join(f"{r:7.2f}" for r in radii))
    log("  low arc  " + " ".join(f"{w:7.3f}" for w in widths))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="landsim", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"landsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="exact geometry of a random wedge landscape")
    demo.add_argument("--dim", type=_positive_int, default=5000, help="dimension D")
    demo.add_argument("--wedges", type=_positive_int, default=6, help="number of wedges K")
    demo.add_argument("--short", type=_positive_int, default=250,
                      help="short directions per wedge s")
    demo.add_argument("--eps0", type=_nonnegative_float, default=0.01, help="width at r = 0")
    demo.add_argument("--eps1", type=_nonnegative_float, default=0.002,
                      help="width growth per unit of long radius")
    demo.add_argument("--radius", type=_nonnegative_float, default=20.0,
                      help="radius of the starting points and optima")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.command == "demo":
        try:
            result = run_demo(args.dim, args.wedges, args.short, args.eps0, args.eps1,
                              args.radius, args.seed)
        except ValueError as exc:
            parser.error(str(exc))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=2)
            print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
