"""Sweep jobs: a grid over config fields and seeds of one claim, run as one job.

A CreateJobRequest with ``sweep`` set asks for ``landsim sweep`` as a job. The request's
config is the base of every grid point; the job's seed is the sweep's root seed. The job
stores its sweep as a JSON object (:func:`sweep_from_proto`, checked for its shape and
limits here, and for its fields and values against the claim's Config by
:func:`check_sweep` for toy jobs at creation, by the torch worker for real ones).

The worker (or Ray slot) that runs it calls :func:`run_sweep_job`: the units run on the
executor it is given (one after another in a worker process; as parallel Ray tasks in a
Ray slot), each unit's Result is stored under ``results/<job id>/sweep/`` as it finishes,
so a sweep requeued after a restart or a lost worker runs only the units it lacks, and
the job's result is the whole sweep (:func:`landsim.sweep_result.sweep_result`).
"""

from __future__ import annotations

import time
from pathlib import Path

from landsim.results import Result
from landsim.sweep import SweepSpec, execute

from . import db
from .errors import InvalidArgument

__all__ = ["SweepInterrupted", "MAX_AXES", "MAX_VALUES", "MAX_VALUE_CHARS", "MAX_SEEDS",
           "MAX_UNITS", "sweep_from_proto", "sweep_to_proto", "sweep_spec", "check_sweep",
           "run_sweep_job", "sweep_dir"]

MAX_AXES = 8
MAX_VALUES = 100  # values per axis
MAX_VALUE_CHARS = 200
MAX_SEEDS = 1000
MAX_UNITS = 10_000  # grid points x seeds x arms of one job


class SweepInterrupted(RuntimeError):
    """The sweep's executor was cancelled (the job was cancelled, or the server stops)."""


def sweep_from_proto(msg) -> dict | None:
    """The sweep of a CreateJobRequest as ``{"axes": [[field, [text, ...]], ...], "seeds":
    n, "controls": bool}``, or None when it is unset (no axes and seeds 0).

    Raises
    ------
    InvalidArgument
        Naming the field (``sweep.seeds``, ``sweep.axes[i].values[j]``, ...) and the
        valid range.
    """
    if not msg.axes and msg.seeds == 0 and not msg.controls:
        return None
    if not 1 <= msg.seeds <= MAX_SEEDS:
        raise InvalidArgument("sweep.seeds", f"seeds must be in [1, {MAX_SEEDS}], got "
                                             f"{msg.seeds}")
    if len(msg.axes) > MAX_AXES:
        raise InvalidArgument("sweep.axes", f"a sweep has at most {MAX_AXES} axes, got "
                                            f"{len(msg.axes)}")
    axes, points = [], 1
    for i, axis in enumerate(msg.axes):
        where = f"sweep.axes[{i}]"
        if not axis.field.isidentifier():
            raise InvalidArgument(f"{where}.field", f"field must be a Config field name, got "
                                                    f"{axis.field[:40]!r}")
        if not 1 <= len(axis.values) <= MAX_VALUES:
            raise InvalidArgument(f"{where}.values", f"an axis has 1 to {MAX_VALUES} values, "
                                                     f"got {len(axis.values)}")
        for j, text in enumerate(axis.values):
            if not text or len(text) > MAX_VALUE_CHARS:
                raise InvalidArgument(f"{where}.values[{j}]",
                                      f"a value is 1 to {MAX_VALUE_CHARS} characters, got "
                                      f"{len(text)}")
        axes.append([axis.field, list(axis.values)])
        points *= len(axis.values)
    units = points * msg.seeds * (2 if msg.controls else 1)
    if units > MAX_UNITS:
        raise InvalidArgument("sweep", f"a sweep job has at most {MAX_UNITS} units (grid "
                                       f"points x seeds x arms), got {units}")
    return {"axes": axes, "seeds": int(msg.seeds), "controls": bool(msg.controls)}


def sweep_to_proto(sweep: dict | None, msg) -> None:
    """Fill the SweepGrid ``msg`` from a stored sweep (nothing when None)."""
    if not sweep:
        return
    for name, values in sweep["axes"]:
        msg.axes.add(field=name, values=values)
    msg.seeds = sweep["seeds"]
    msg.controls = sweep["controls"]


def sweep_spec(claim: str, kind: str, sweep: dict, seed: int, base) -> SweepSpec:
    """The :class:`landsim.sweep.SweepSpec` of a sweep job (``base``: its Config)."""
    return SweepSpec(claim, kind, grid=tuple((name, tuple(values))
                                             for name, values in sweep["axes"]),
                     seeds=sweep["seeds"], root_seed=seed, controls=sweep["controls"],
                     base=base)


def check_sweep(claim: str, sweep: dict, seed: int, base) -> None:
    """Build the toy sweep's spec now, so that a bad field or value is INVALID_ARGUMENT at
    creation rather than a FAILED job."""
    try:
        sweep_spec(claim, "toy", sweep, seed, base)
    except ValueError as exc:
        text = str(exc)
        field = "sweep.axes"
        for i, (name, _) in enumerate(sweep["axes"]):
            if name in text:
                field = f"sweep.axes[{i}]"
                break
        raise InvalidArgument(field, text) from None


def sweep_dir(data_dir: str | Path, job_id: str) -> Path:
    """Where a sweep job keeps its unit results: ``results/<job id>/sweep``."""
    return Path(data_dir) / "results" / job_id / "sweep"


def run_sweep_job(spec: SweepSpec, out: Path, executor, progress) -> Result:
    """Run the units of ``spec`` not stored in ``out`` on ``executor``; return the sweep's
    Result.

    ``progress(fraction, message)`` is called after each unit (and may raise to stop the
    run: the executor is then cancelled, and what finished stays stored).

    Raises
    ------
    RuntimeError
        Units failed (the first error is quoted).
    SweepInterrupted
        The executor was cancelled; the units that finished are stored.
    """
    from landsim.sweep_result import sweep_result

    t0 = time.perf_counter()
    db.private_dir(out.parent)
    db.private_dir(out)

    def finished(k: int, n: int, su, done, error: str) -> None:
        progress(k / n, f"{su.label}: {'FAILED' if error else 'done'} ({k}/{n})")

    run = execute(spec, out, executor, on_finished=finished)
    for path in out.rglob("*"):
        if path.is_file():
            db.private_file(path)
        elif path.is_dir():
            db.private_dir(path)
    if run.interrupted:
        raise SweepInterrupted(f"the sweep was interrupted after {len(run.stored)} of "
                               f"{run.submitted} units")
    if run.failed:
        su, error = run.failed[0]
        raise RuntimeError(f"{len(run.failed)} of {run.total} units failed; the first, "
                           f"{su.label}: {error}")
    return sweep_result(spec, out, seconds=time.perf_counter() - t0)
