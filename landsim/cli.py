"""The ``landsim`` command line.

``landsim demo`` builds a random wedge landscape and reports, from exact computation:
the short-direction count of m-wedge intersections beside D(1 - (1 - s/D)^m), descent to
the union, the barrier of a straight line between two optima beside the barrier of a
tunnel through their intersection, and the width of the low-loss set in a radial section.

``landsim reproduce`` runs the claims E1..E7 on the toy landscape (``--quick`` for the
small configs) over independent replicates, each with its negative control
(``--replicates N``), stores each unit's result, aggregates each claim's verdict and
builds the report; ``landsim reproduce --real
[--device cuda]`` runs the same claims on trained networks instead (PyTorch, imported only
then). Results of both kinds stored in one ``--out`` directory are reported side by side.
``landsim report DIR`` rebuilds the report from the results stored in DIR without
recomputing anything.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from . import __version__, descent, geometry, paths, sections
from .commands import run_serve
from .progress_lines import ProgressLine, run_units  # noqa: F401 - cli.ProgressLine stays
from .seeding import children
from .spec import check_n_short, random_landscape
from .units import REGISTRIES


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


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def _experiment_ids(text: str) -> tuple[str, ...]:
    """``"E1,e3"`` -> ``("E1", "E3")``; unknown ids are an argparse error naming the valid."""
    from .experiments import EXPERIMENT_IDS

    ids = [part.strip().upper() for part in text.split(",") if part.strip()]
    valid = ", ".join(EXPERIMENT_IDS)
    if not ids:
        raise argparse.ArgumentTypeError(f"no experiment ids given; valid ids: {valid}")
    unknown = [i for i in ids if i not in EXPERIMENT_IDS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown experiment id(s) {', '.join(unknown)}; valid ids: {valid}")
    return tuple(dict.fromkeys(ids))


#: Shown when ``--real`` is asked for without PyTorch.
TORCH_MISSING = ("landsim reproduce --real needs PyTorch, which is not installed: "
                 "pip install landsim[torch]")


def _real_registry(device: str, err: TextIO):
    """The real-network registry, or None after writing why it cannot run on ``device``."""
    try:
        import torch
    except ImportError as exc:
        err.write(f"error: {TORCH_MISSING} ({exc})\n")
        return None
    if device == "cuda" and not torch.cuda.is_available():
        err.write("error: --device cuda was requested but torch.cuda.is_available() is False "
                  "on this machine; use --device cpu\n")
        return None
    try:
        registry = importlib.import_module(REGISTRIES["real"])
    except ImportError as exc:  # e.g. scikit-learn missing
        err.write(f"error: {TORCH_MISSING} ({type(exc).__name__}: {exc})\n")
        return None
    return registry


def _remove_stale(out: Path, claims: Sequence[str], kind: str) -> int:
    """Delete the stored results of ``claims`` of ``kind`` in ``out`` (a rerun replaces
    them, so that a claim's replicates always share one config); returns how many."""
    from .report import read_results  # skips a broken file instead of raising

    if not out.is_dir():
        return 0
    removed = 0
    for r in read_results(out)[0]:
        if r.experiment in claims and r.kind == kind:
            for suffix in (".json", ".npz"):
                (out / f"{r.stem}{suffix}").unlink(missing_ok=True)
            removed += 1
    return removed


#: The executor of ``reproduce`` when none is named: a process pool over this machine's cores.
DEFAULT_EXECUTOR = "local"


def _make_executor(name: str | None, workers: int | None, address: str, kind: str):
    """The executor called ``name`` (default :data:`DEFAULT_EXECUTOR`); real units run one
    at a time unless ``workers`` says otherwise (torch already uses every core)."""
    from .executors import make_executor

    name = DEFAULT_EXECUTOR if name is None else name
    if workers is None and kind == "real" and name == "local":
        workers = 1
    return make_executor(name, workers=workers, address=address)


def run_reproduce(ids: Sequence[str], quick: bool, seed: int, out: str | Path,
                  strict: bool, stream: TextIO | None = None, err: TextIO | None = None,
                  tty: bool | None = None, real: bool = False, device: str = "cpu",
                  replicates: int | None = None, executor: str | None = None,
                  workers: int | None = None, address: str = "auto") -> int:
    """Run every unit of the claims ``ids`` (each replicate's claim arm and negative
    control), save each result into ``out``, aggregate and build the report.

    With ``real`` the claims run on trained networks (:mod:`landsim.real.experiments`,
    each config's ``device`` set to ``device``) instead of the toy landscape; torch is
    imported only then. ``replicates`` defaults to toy 5 (quick 3), real 3 (quick 2).
    The units run on ``executor`` (:data:`DEFAULT_EXECUTOR` if None; see
    :func:`landsim.executors.make_executor` for ``workers`` and ``address``); each result
    is stored as soon as its unit finishes, in whatever order they finish.
    Results of the same claims and kind already in ``out`` are replaced; the report covers
    every result in ``out``, so toy and real results stored there are reported side by
    side.

    Returns the exit status: 2 if a unit (or the report) raised, or the real suite cannot
    run (no PyTorch, no CUDA), else 1 if ``strict`` and a claim does not hold over its
    replicates and control (:mod:`landsim.verdicts`), else 0.
    """
    from .report import build_report, read_results
    from .units import default_replicates, plan_units
    from .verdicts import aggregate

    stream = sys.stdout if stream is None else stream
    err = sys.stderr if err is None else err
    if tty is None:
        tty = bool(getattr(stream, "isatty", lambda: False)())
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be one of ('cpu', 'cuda'), got {device!r}")
    kind = "real" if real else "toy"
    if real and _real_registry(device, err) is None:
        err.flush()
        return 2
    n_rep = default_replicates(kind, quick) if replicates is None else replicates
    out = Path(out)
    size = "quick" if quick else "default"
    suite = f"real networks on {device}" if real else "toy landscape"
    stream.write(f"reproducing {', '.join(ids)} ({suite}, {size} configs, seed {seed}, "
                 f"{n_rep} replicates, each with its negative control) into {out}\n")
    configure = (lambda c: dataclasses.replace(c, device=device)) if real else None
    failed: dict[str, str] = {}
    units = []
    for eid in ids:
        try:
            units += plan_units([eid], kind, quick=quick, replicates=n_rep, seed=seed,
                                configure=configure)
        except Exception as exc:  # e.g. a claim whose module cannot be imported
            failed[eid] = f"not importable: {type(exc).__name__}: {exc}"
            err.write(f"error: {eid} could not be set up: {type(exc).__name__}: {exc}\n")
    removed = _remove_stale(out, [u.claim for u in units], kind)
    if removed:
        stream.write(f"replacing {removed} stored result(s) of these claims in {out}\n")
    skipped: dict[str, int] = {}
    if units:
        try:
            runner = _make_executor(executor, workers, address, kind)
        except (ImportError, ValueError) as exc:
            err.write(f"error: {exc}\n")
            err.flush()
            return 2
        with runner:
            status = run_units(runner, units, out, failed, skipped, stream, err, tty)
        if status is not None:
            return status
    report_failed = False
    verdicts = []
    if len(failed) < len(ids):
        try:
            verdicts = [v for v in aggregate(read_results(out)[0])
                        if v.kind == kind and v.experiment in ids]
            html_path, md_path = build_report(out)
        except Exception as exc:
            report_failed = True
            err.write(f"error: the report could not be built: {type(exc).__name__}: {exc}\n")
        else:
            stream.write(f"report: {html_path}\n(markdown: {md_path})\n")
    else:
        err.write("error: no experiment ran, so no report was built\n")
    not_holding = [v for v in verdicts if not v.holds and v.experiment not in failed]
    for v in verdicts:
        if v.experiment in failed:
            stream.write(f"{v.experiment} ({v.kind}): FAILED - a unit raised, see the errors\n")
        else:
            status = v.status if v.holds else v.status.upper()
            stream.write(f"{v.experiment} ({v.kind}): {status} - {v.evidence}\n")
    if not_holding:
        stream.write("claims that do not hold: " +
                     ", ".join(f"{v.experiment} ({v.status})" for v in not_holding) + "\n")
    for claim, n in skipped.items():
        failed[claim] += f"; its other {n} unit(s) were skipped"
    if failed:
        err.write("experiments that failed: " +
                  "; ".join(f"{k} ({v})" for k, v in failed.items()) + "\n")
    stream.flush()
    err.flush()
    if failed or report_failed:
        return 2
    if strict and not_holding:
        return 1
    return 0


def run_report(results_dir: str | Path, out_dir: str | Path | None = None,
               err: TextIO | None = None) -> int:
    """Rebuild the report from stored results; 2 with a message if there are none."""
    from .report import NoResultsError, build_report

    err = sys.stderr if err is None else err
    try:
        html_path, md_path = build_report(results_dir, out_dir)
    except NoResultsError as exc:
        err.write(f"landsim report: error: {exc}\n")
        return 2
    print(f"report: {html_path}\n(markdown: {md_path})")
    return 0


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
    check_n_short(n_short, dim)
    if n_wedges < 2:
        raise ValueError(f"n_wedges must be >= 2 for the tunnel demo, got {n_wedges}")
    out: dict = {"config": dict(dim=dim, n_wedges=n_wedges, n_short=n_short, eps0=eps0,
                                eps1=eps1, radius=radius, seed=seed)}
    t0 = time.perf_counter()
    seeds = dict(zip(("landscape", "starts", "descent", "a", "b", "plane"),
                     children(seed, 6)))  # one stream per purpose, never seed + offset
    spec = random_landscape(dim, n_wedges, n_short, eps0=eps0, eps1=eps1,
                            seed=seeds["landscape"])
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
    x0 = descent.init_at_radius(dim, radius, n_runs, seed=seeds["starts"])
    cfg = descent.DescentConfig(optimizer="gd", lr=0.2, steps=500, target_loss=1e-10,
                                record_every=50)
    t0 = time.perf_counter()
    traj = descent.descend(spec, x0, cfg, seed=seeds["descent"])
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

    a = geometry.intersection_point(spec, [0], radius=radius, seed=seeds["a"])
    b = geometry.intersection_point(spec, [1], radius=radius, seed=seeds["b"])
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

    e1, e2 = sections.random_plane(dim, seed=seeds["plane"], containing=a)
    radii = np.linspace(0.0, 2.0 * radius, 9)
    angles = np.linspace(-np.pi, np.pi, 721)
    section = sections.radial_section(spec, np.zeros(dim), e1, e2, radii, angles)
    low = section.loss <= 1e-12
    widths = low.mean(axis=1) * 2 * np.pi * radii  # arc length of the low-loss set
    out["radial_section"] = {"radii": radii.tolist(), "low_loss_arc": widths.tolist()}
    log("\nradial section through the origin containing the wedge-0 optimum:")
    log("  radius   " + " ".join(f"{r:7.2f}" for r in radii))
    log("  low arc  " + " ".join(f"{w:7.3f}" for w in widths))
    return out


def _add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """``--executor``, ``--workers`` and ``--address`` (shared by reproduce and sweep)."""
    from .executors import EXECUTORS

    parser.add_argument("--executor", choices=EXECUTORS, default=None,
                        help="where the units run: local (a process pool over this "
                             "machine's cores; the default), ray (Ray tasks on a cluster; "
                             'pip install "landsim[ray]") or serial (one after another in '
                             "this process)")
    parser.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                        help="local: worker processes (default: this machine's CPUs; 1 "
                             "for --real); ray: CPUs of a cluster started for the run")
    parser.add_argument("--address", default="auto",
                        help="ray: the cluster to use; auto (the default) means "
                             "RAY_ADDRESS if set, else a local cluster started for the run")


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

    rep = sub.add_parser("reproduce", help="run the claims E1..E7, store results, report")
    rep.add_argument("--quick", action="store_true", help="use each claim's quick_config()")
    rep.add_argument("--only", type=_experiment_ids, default=None, metavar="IDS",
                     help="comma-separated claim ids to run, e.g. E1,E3 (default: all)")
    rep.add_argument("--seed", type=_nonnegative_int, default=0,
                     help="root seed (>= 0); replicate i runs on SeedSequence(seed).spawn()[i]")
    rep.add_argument("--replicates", type=_positive_int, default=None, metavar="N",
                     help="independent replicates per claim, each with its control (default: "
                          "toy 5, real 3; with --quick toy 3, real 2)")
    rep.add_argument("--out", default="reports/latest",
                     help="directory for the results and the report (default: %(default)s)")
    rep.add_argument("--strict", action="store_true",
                     help="exit with status 1 if any claim does not hold over its replicates "
                          "and control")
    rep.add_argument("--real", action="store_true",
                     help="run the claims on trained networks instead of the toy landscape "
                          "(needs pip install landsim[torch]); store both kinds in one --out "
                          "to see them side by side")
    _add_executor_arguments(rep)
    rep.add_argument("--device", choices=("cpu", "cuda"), default=None,
                     help="where the real networks run (with --real; default: cpu)")

    rpt = sub.add_parser("report", help="rebuild the report from stored results")
    rpt.add_argument("dir", help="directory of stored results")
    rpt.add_argument("--out", default=None, help="where to write the report (default: DIR)")

    from .plugins_cli import add_plugins_parser
    from .sweep_cli import add_sweep_parser
    add_sweep_parser(sub)
    add_plugins_parser(sub)

    # `landsim serve ...` hands its arguments to the server's own parser (see
    # `landsim serve --help`), found through the "landsim.commands" entry point; grpc is
    # imported only then, never by `import landsim`.
    sub.add_parser("serve", help="run the gRPC service (options: landsim serve --help)",
                   add_help=False)
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:
        return run_serve(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "reproduce":
        from .experiments import EXPERIMENT_IDS

        if args.device is not None and not args.real:
            rep.error("--device applies to the real-network suite: use it with --real "
                      "(the toy suite runs on the CPU)")
        return run_reproduce(args.only or EXPERIMENT_IDS, args.quick, args.seed, args.out,
                             args.strict, real=args.real, device=args.device or "cpu",
                             executor=args.executor, workers=args.workers,
                             address=args.address,
                             replicates=args.replicates)
    if args.command in ("sweep", "plugins"):
        return args.func(args)
    if args.command == "report":
        return run_report(args.dir, args.out)
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
