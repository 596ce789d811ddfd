"""``landsim sweep``: one claim over a grid of config values and seeds (:mod:`landsim.sweep`).

::

    landsim sweep E2 --grid eps1=0.001,0.002,0.005 --grid d_ratios=0.1/0.5/1/2,0.2/0.5/2 \\
        --seeds 8 --out runs/e2 [--quick] [--real [--device cpu|cuda]] [--seed ROOT] \\
        [--controls] [--executor local|ray|serial] [--address auto] [--workers N] \\
        [--metric NAME]

Each ``--grid FIELD=V1,V2,...`` sweeps one field of the claim's Config (values read by
the field's type; a tuple field takes ``a/b/c``); the grid is their cartesian product.
Every unit (grid point x seed x arm) is stored under ``OUT/units`` as it finishes, units
already stored are skipped, and ``OUT/summary.csv``, ``OUT/summary.md`` and
``OUT/fig_<field>.png`` summarise the chosen metric per grid point.

Exit status: 0 when every unit ran (or was stored already), 2 when a unit failed, the
spec is invalid or ``OUT`` holds another sweep, 130 after Ctrl-C (the units that finished
are kept).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

__all__ = ["add_sweep_parser", "run_sweep"]

EXECUTOR_NAMES = ("local", "ray", "serial")


def _claim_id(text: str) -> str:
    from .experiments import EXPERIMENT_IDS

    claim = text.strip().upper()
    if claim not in EXPERIMENT_IDS:
        raise argparse.ArgumentTypeError(f"unknown claim {text!r}; valid claims: "
                                         f"{', '.join(EXPERIMENT_IDS)}")
    return claim


def _int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text}")
        return value
    return parse


def add_sweep_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``sweep`` subcommand to ``landsim``'s subparsers; returns its parser.

    ``main`` then calls :func:`run_sweep` with the parsed arguments when
    ``args.command == "sweep"`` (the parser's default ``func``).
    """
    sw = subparsers.add_parser(
        "sweep", help="run one claim over a grid of config values and seeds",
        description="Run one claim on every point of a grid over its Config fields, over "
                    "seeds (and controls), store each unit, and summarise a metric per "
                    "grid point (OUT/summary.csv, OUT/summary.md, OUT/fig_<field>.png). "
                    "Units already stored in OUT are skipped.")
    sw.add_argument("claim", type=_claim_id, help="claim id, E1 .. E7")
    sw.add_argument("--grid", action="append", default=[], metavar="FIELD=V1,V2,...",
                    help="a Config field and its values (read by the field's type; a tuple "
                         "field takes a/b/c per value); repeat for more fields")
    sw.add_argument("--seeds", type=_int_at_least(1), default=None, metavar="N",
                    help="replicates per grid point (default: toy 5, real 3; with --quick "
                         "toy 3, real 2)")
    sw.add_argument("--seed", type=_int_at_least(0), default=0, metavar="ROOT",
                    help="root seed: replicate i runs on SeedSequence(ROOT, spawn_key=(i,)) "
                         "(default: %(default)s)")
    sw.add_argument("--out", required=True, help="directory of the sweep (its units, "
                                                 "summary and figures)")
    sw.add_argument("--quick", action="store_true", help="start from quick_config()")
    sw.add_argument("--controls", action="store_true",
                    help="also run the negative control of every replicate")
    sw.add_argument("--real", action="store_true",
                    help="sweep the real-network claim (needs pip install landsim[torch])")
    sw.add_argument("--device", choices=("cpu", "cuda"), default=None,
                    help="where the real networks run (with --real; default: cpu)")
    sw.add_argument("--executor", choices=EXECUTOR_NAMES, default="local",
                    help="where units run: a local process pool (default), a Ray cluster "
                         "(pip install landsim[ray]) or serially in this process")
    sw.add_argument("--address", default="auto",
                    help="Ray only: 'auto' (RAY_ADDRESS, else a local cluster), 'local' or "
                         "a cluster address (default: %(default)s)")
    sw.add_argument("--workers", type=_int_at_least(1), default=None, metavar="N",
                    help="worker processes (local) or CPUs of a local Ray cluster "
                         "(default: all CPUs)")
    sw.add_argument("--metric", default=None, metavar="NAME",
                    help="the metric summarised (default: the statistic the claim's rule "
                         "judges, the first of its KEY_METRICS)")
    sw.set_defaults(func=run_sweep, sweep_parser=sw)
    return sw


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]


def run_sweep(args: argparse.Namespace, stream: TextIO | None = None,
              err: TextIO | None = None, *, make_executor=None) -> int:
    """Run ``landsim sweep`` with parsed ``args`` (see :func:`add_sweep_parser`).

    Parameters
    ----------
    args : argparse.Namespace
    stream, err : text streams, optional
        Progress and errors (default stdout and stderr).
    make_executor : callable, optional
        ``make_executor(name, workers=, address=)`` (default
        :func:`landsim.executors.make_executor`); tests pass a wrapper.

    Returns
    -------
    int
        0 when every unit is stored; 2 when a unit failed, the spec is invalid, ``OUT``
        holds another sweep, the executor or the real suite is unavailable; 130 after
        Ctrl-C.
    """
    from . import sweep

    stream = sys.stdout if stream is None else stream
    err = sys.stderr if err is None else err
    if args.device is not None and not args.real:
        err.write("landsim sweep: error: --device applies to the real-network claims: use "
                  "it with --real (the toy claims run on the CPU)\n")
        return 2
    kind = "real" if args.real else "toy"
    if args.real:
        from .cli import _real_registry

        if _real_registry(args.device or "cpu", err) is None:
            err.flush()
            return 2
    if make_executor is None:
        from .executors import make_executor
    try:
        from .units import default_replicates

        grid = tuple(sweep.parse_grid(text, args.claim, kind) for text in args.grid)
        spec = sweep.SweepSpec(args.claim, kind, grid,
                               seeds=args.seeds or default_replicates(kind, args.quick),
                               root_seed=args.seed, quick=args.quick, controls=args.controls,
                               device=(args.device or "cpu") if args.real else None)
        sweep.check_out_dir(spec, args.out)
    except ValueError as exc:
        err.write(f"landsim sweep: error: {exc}\n")
        return 2
    out = Path(args.out)
    try:
        executor = make_executor(args.executor, workers=args.workers, address=args.address)
    except ImportError as exc:  # Ray missing: the message says how to install it
        err.write(f"landsim sweep: error: {exc}\n")
        return 2
    except ValueError as exc:
        err.write(f"landsim sweep: error: {exc}\n")
        return 2

    n_points = len(spec.points())
    size = "quick" if spec.quick else "default"
    suite = f"real networks on {spec.device}" if args.real else "toy landscape"

    def on_start(total: int, skipped: int, todo: int) -> None:
        arms = "2 arms (claim, control)" if spec.controls else "1 arm"
        stream.write(f"sweep {spec.claim} ({suite}, {size} config): {n_points} grid "
                     f"point(s) x {spec.seeds} seed(s) x {arms} = {total} unit(s) into "
                     f"{out}\n")
        if skipped:
            stream.write(f"{skipped} unit(s) already stored in {out / sweep.UNITS_DIR}: "
                         "skipped\n")
        stream.write(f"running {todo} unit(s) on the {args.executor} executor\n")
        stream.flush()

    def on_finished(k: int, n: int, su, finished, error: str) -> None:
        node = finished.node or "this process"
        if error:
            stream.write(f"[{k}/{n}] {su.label}: FAILED (node {node}): {_first_line(error)}\n")
            err.write(f"error: {su.label} failed:\n"
                      + "".join("  " + line for line in error.splitlines(True)) + "\n")
            err.flush()
        else:
            mark = "rule holds" if finished.result.verdict.holds else "rule fails"
            stream.write(f"[{k}/{n}] {su.label}: {mark} (node {node})\n")
        stream.flush()

    with executor:
        try:
            run = sweep.execute(spec, out, executor, on_start=on_start,
                                on_finished=on_finished)
        except KeyboardInterrupt:  # before the executor's loop (loading stored units)
            executor.cancel()
            err.write("landsim sweep: interrupted before any unit ran\n")
            return 130
        except ValueError as exc:  # e.g. OUT changed under us
            err.write(f"landsim sweep: error: {exc}\n")
            return 2
    try:
        summary = sweep.summarize(spec, out, args.metric)
        paths, notes = sweep.write_summary(summary, out)
    except ValueError as exc:
        err.write(f"landsim sweep: error: the summary could not be built: {exc}\n"
                  "(the units are stored: rerun with another --metric to summarise them)\n")
        return 130 if run.interrupted else 2
    except KeyboardInterrupt:
        return 130
    for note in notes:
        stream.write(f"note: {note}\n")
    stream.write(f"summary ({summary.metric}): {paths[0]} and {paths[1]}"
                 + (f"; figures: {', '.join(p.name for p in paths[2:])}" if paths[2:] else "")
                 + "\n")
    stream.write(f"{len(run.stored)} unit(s) stored by this run, {run.skipped} skipped "
                 f"(already stored), {len(run.failed)} failed\n")
    stream.flush()
    if run.interrupted:
        err.write(f"landsim sweep: interrupted; the {len(run.stored)} unit(s) that finished "
                  f"are stored in {out / sweep.UNITS_DIR}: rerun the same command to "
                  "continue\n")
        err.flush()
        return 130
    if run.failed:
        err.write(f"landsim sweep: {len(run.failed)} unit(s) failed (not stored): "
                  + ", ".join(su.label for su, _ in run.failed) + "\n")
        err.flush()
        return 2
    return 0

