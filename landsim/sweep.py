"""Grid sweeps: one claim over a grid of config values and seeds, stored unit by unit.

A sweep runs one claim (toy or real) on every point of a grid over fields of the claim's
``Config``, each point over ``seeds`` replicates of one root seed, optionally with the
negative control of every replicate:

>>> spec = SweepSpec("E1", "toy", grid=(("eps1", (0.001, 0.002)),), seeds=2, quick=True)
>>> len(plan(spec))                      # 2 points x 2 seeds x 1 arm
4
>>> with make_executor("serial") as ex:   # doctest: +SKIP
...     run = execute(spec, "runs/e1", ex)
>>> summary = summarize(spec, "runs/e1")  # doctest: +SKIP
>>> write_summary(summary, "runs/e1")     # doctest: +SKIP

Layout of the output directory ``OUT``:

- ``OUT/sweep.json``: the spec (:func:`spec_dict`). A second sweep into the same directory
  must have the same spec (:func:`check_out_dir`), so every stored unit belongs to it.
- ``OUT/units/<stem>.json`` and ``.npz``: one :class:`~landsim.results.Result` per unit,
  ``stem = <claim>-<kind>-<arm>-<point label>-seed<root>-r<i>`` (:func:`point_label`: a
  readable ``field=value`` prefix and a hash of the full config). A unit whose JSON is
  stored and loads is not run again.
- ``OUT/summary.csv``, ``OUT/summary.md``: one row per grid point and arm
  (:func:`summarize`, :func:`write_summary`), and ``OUT/fig_<field>.png``: the metric
  against each swept field (needs matplotlib, the ``plot`` extra).

Every grid point's config is built with ``dataclasses.replace(base, **point)`` when the
spec is made, so the Config's own validation rejects a bad value before anything runs.
Executors are imported by the caller; this module never imports ray, torch or matplotlib
at import time. The grid's values and labels live in :mod:`landsim.sweep_grid`, the
summary in :mod:`landsim.sweep_summary`; both are re-exported here.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .results import ARMS, KINDS, Result, _jsonable, load_result, save_result
from .seeding import check_seed
from .sweep_grid import (
    HASH_CHARS,
    LABEL_CHARS,
    config_fields,
    field_default,
    format_value,
    parse_grid,
    parse_value,
    point_label,
    unknown_field,
)
from .sweep_summary import MPL_MISSING, Summary, default_metric, summarize, write_summary
from .units import Unit, experiment_module

__all__ = ["SweepSpec", "SweepUnit", "SweepRun", "Summary", "SpecMismatch",
           "parse_value", "parse_grid", "config_fields", "format_value", "point_label",
           "plan", "spec_dict", "check_out_dir", "stored", "execute", "default_metric",
           "summarize", "write_summary", "SPEC_FORMAT", "SPEC_NAME", "UNITS_DIR",
           "LABEL_CHARS", "HASH_CHARS", "MPL_MISSING"]

SPEC_FORMAT = "landsim.Sweep/1"
#: Names inside the output directory.
SPEC_NAME = "sweep.json"
UNITS_DIR = "units"
#: Spec keys compared between a sweep and the one stored in its directory.
SPEC_KEYS = ("claim", "kind", "grid", "seeds", "root_seed", "quick", "controls", "device",
             "base_config")


class SpecMismatch(ValueError):
    """The output directory holds a sweep with a different spec."""


# ------------------------------------------------------------------ the spec
@dataclass(frozen=True)
class SweepSpec:
    """What a sweep runs: one claim on every grid point x seed (x arm).

    Attributes
    ----------
    claim : str
        "E1" .. "E7".
    kind : {"toy", "real"}
    grid : tuple of (str, tuple)
        ``((field, (v1, v2, ...)), ...)``: the swept fields of the claim's Config, each
        with its values (text is parsed by the field's type, :func:`parse_value`). The
        grid points are the cartesian product, the first field slowest. Empty: the base
        config only.
    seeds : int
        Replicates per grid point and arm, >= 1: replicate i of ``root_seed``.
    root_seed : int
        In [0, 2^63 - 1].
    quick : bool
        Start from ``quick_config()`` instead of ``Config()``.
    controls : bool
        Add the negative control arm of every replicate.
    device : {"cpu", "cuda"} or None
        Real sweeps: where the networks run (default "cpu", or the device of ``base``);
        None for toy sweeps.
    base : Config, optional
        The claim's Config every grid point starts from, instead of ``quick_config()`` or
        ``Config()`` (the job service passes the job's own config).

    Raises
    ------
    ValueError
        An unknown field (the message lists the claim's fields), a field given twice, no
        values or a value given twice, seeds < 1, or a grid point whose config the claim's
        Config rejects (the message names the point and the Config's reason).
    """

    claim: str
    kind: str = "toy"
    grid: tuple = ()
    seeds: int = 1
    root_seed: int = 0
    quick: bool = False
    controls: bool = False
    device: str | None = None
    base: Any = None

    def __post_init__(self) -> None:
        from .experiments import EXPERIMENT_IDS

        if self.claim not in EXPERIMENT_IDS:
            raise ValueError(f"claim must be one of {EXPERIMENT_IDS}, got {self.claim!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, (int, np.integer)) \
                or self.seeds < 1:
            raise ValueError(f"seeds must be an integer >= 1, got {self.seeds!r}")
        object.__setattr__(self, "seeds", int(self.seeds))
        object.__setattr__(self, "root_seed", check_seed(self.root_seed, "root_seed"))
        object.__setattr__(self, "quick", bool(self.quick))
        object.__setattr__(self, "controls", bool(self.controls))
        if self.base is not None and (not dataclasses.is_dataclass(self.base)
                                      or isinstance(self.base, type)):
            raise ValueError(f"base must be a Config instance of {self.claim}, got "
                             f"{self.base!r}")
        if self.kind == "real":
            device = self.device
            if device is None:
                device = getattr(self.base, "device", None) or "cpu"
            if device not in ("cpu", "cuda"):
                raise ValueError(f"device must be one of ('cpu', 'cuda'), got {device!r}")
            object.__setattr__(self, "device", device)
        elif self.device is not None:
            raise ValueError(f"device applies to real sweeps only (the toy claims run on the "
                             f"CPU), got device={self.device!r}")
        object.__setattr__(self, "grid", self._checked_grid())
        self.configs()  # every grid point's Config validates itself now

    def _checked_grid(self) -> tuple:
        if isinstance(self.grid, dict):
            items = list(self.grid.items())
        else:
            items = list(self.grid)
        fields = config_fields(self.claim, self.kind)
        out, seen = [], set()
        for item in items:
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise ValueError(f"grid entries must be (field, values) pairs, got {item!r}")
            name, values = item
            if name not in fields:
                raise unknown_field(name, self.claim, self.kind, list(fields))
            if name in seen:
                raise ValueError(f"grid field {name} is given twice")
            seen.add(name)
            if isinstance(values, (str, bytes)) or not isinstance(values, (tuple, list)):
                values = (values,)
            if not values:
                raise ValueError(f"grid field {name} has no values")
            default = field_default(self.claim, self.kind, name)
            values = tuple(parse_value(name, v, fields[name], default) for v in values)
            for i, v in enumerate(values):
                if v in values[:i]:
                    raise ValueError(f"grid field {name} lists the value {format_value(v)} "
                                     f"twice")
            out.append((name, values))
        return tuple(out)

    @property
    def module(self):
        """The claim's experiment module."""
        return experiment_module(self.claim, self.kind)

    @property
    def fields(self) -> tuple[str, ...]:
        """The swept fields, in grid order."""
        return tuple(name for name, _ in self.grid)

    @property
    def arms(self) -> tuple[str, ...]:
        return ARMS if self.controls else ("claim",)

    def base_config(self):
        """The config every point starts from (quick or default, device set)."""
        module = self.module
        if self.base is not None:
            base = self.base
        else:
            base = module.quick_config() if self.quick else module.Config()
        if self.kind == "real":
            base = dataclasses.replace(base, device=self.device)
        return base

    def points(self) -> list[tuple[tuple[str, Any], ...]]:
        """The grid points, ``((field, value), ...)`` each, first field slowest."""
        names = self.fields
        return [tuple(zip(names, values))
                for values in itertools.product(*(v for _, v in self.grid))]

    def configs(self) -> list:
        """The claim config of every grid point, in :meth:`points` order.

        Raises
        ------
        ValueError
            A point the claim's Config rejects: ``grid point eps1=-1: <the reason>``.
        """
        base = self.base_config()
        out = []
        for point in self.points():
            try:
                out.append(dataclasses.replace(base, **dict(point)))
            except (ValueError, TypeError) as exc:
                text = ",".join(f"{k}={format_value(v)}" for k, v in point)
                raise ValueError(f"{self.claim} ({self.kind}) grid point {text}: {exc}") \
                    from None
        return out

    @property
    def n_units(self) -> int:
        return len(self.points()) * self.seeds * len(self.arms)


@dataclass(frozen=True)
class SweepUnit:
    """One unit of a sweep with its grid point and file stem."""

    unit: Unit
    point: tuple
    stem: str

    @property
    def point_text(self) -> str:
        """``eps1=0.001,n_short=50`` (``base`` for an empty grid)."""
        return ",".join(f"{k}={format_value(v)}" for k, v in self.point) or "base"

    @property
    def label(self) -> str:
        """``E2 toy claim eps1=0.001,n_short=50 r3``."""
        u = self.unit
        return f"{u.claim} {u.kind} {u.arm} {self.point_text} r{u.replicate}"


def plan(spec: SweepSpec) -> list[SweepUnit]:
    """Every unit of the sweep: grid point x seed x arm (point-major, then replicate).

    Replicate i runs ``Unit(claim, kind, config, seed=root_seed, replicate=i, arm)``.
    """
    out = []
    for point, config in zip(spec.points(), spec.configs()):
        label = point_label(point, config)
        for i in range(spec.seeds):
            for arm in spec.arms:
                unit = Unit(spec.claim, spec.kind, config, seed=spec.root_seed,
                            replicate=i, arm=arm)
                stem = f"{spec.claim}-{spec.kind}-{arm}-{label}-seed{spec.root_seed}-r{i}"
                out.append(SweepUnit(unit, point, stem))
    return out


# ------------------------------------------------------------------ the directory
def spec_dict(spec: SweepSpec) -> dict:
    """The spec as stored in ``sweep.json`` (JSON types; the base config included)."""
    base = spec.base_config()
    data = {"format": SPEC_FORMAT, "claim": spec.claim, "kind": spec.kind,
            "grid": [[name, list(values)] for name, values in spec.grid],
            "seeds": spec.seeds, "root_seed": spec.root_seed, "quick": spec.quick,
            "controls": spec.controls, "device": spec.device,
            "base_config": {f.name: getattr(base, f.name) for f in dataclasses.fields(base)},
            "version": __version__}
    return json.loads(json.dumps(_jsonable(data)))


def check_out_dir(spec: SweepSpec, out: str | PathLike) -> Path:
    """Make ``out`` the directory of this sweep: write ``sweep.json``, or check that the
    one there describes the same spec. Returns the JSON path.

    Raises
    ------
    SpecMismatch
        ``out`` holds another sweep (the message names the differing keys), or a
        ``sweep.json`` that is not a sweep spec.
    """
    out = Path(out)
    path = out / SPEC_NAME
    mine = spec_dict(spec)
    if path.exists():
        try:
            theirs = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise SpecMismatch(f"{path} cannot be read ({exc}); use another --out") from None
        if not isinstance(theirs, dict) or theirs.get("format") != SPEC_FORMAT:
            raise SpecMismatch(f"{path} is not a landsim sweep spec; use another --out")
        diff = [k for k in SPEC_KEYS if theirs.get(k) != mine[k]]
        if diff:
            details = []
            for k in diff:
                if k == "base_config":
                    a, b = theirs.get(k) or {}, mine[k]
                    changed = sorted(n for n in set(a) | set(b) if a.get(n) != b.get(n))
                    details.append(f"base_config fields {', '.join(changed)}")
                else:
                    details.append(f"{k}: stored {json.dumps(theirs.get(k))}, now "
                                   f"{json.dumps(mine[k])}")
            raise SpecMismatch(f"{out} holds a different sweep ({'; '.join(details)}); "
                               "rerun with the same spec to continue it, or use another "
                               "--out")
        return path
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{SPEC_NAME}.tmp"
    tmp.write_text(json.dumps(mine, indent=1))
    tmp.replace(path)
    return path


def _load(units_dir: Path, su: SweepUnit) -> Result | None:
    path = units_dir / f"{su.stem}.json"
    if not path.exists():
        return None
    try:
        result = load_result(path)
    except Exception:  # a broken file is run again
        return None
    u = su.unit
    if (result.experiment, result.kind, result.arm, result.seed, result.replicate) != \
            (u.claim, u.kind, u.arm, u.seed, u.replicate):
        return None
    return result


def stored(sweep_units: Sequence[SweepUnit], out: str | PathLike) -> dict[str, Result]:
    """The results already stored under ``out/units`` (stem -> Result); files that do not
    load, or belong to another unit, are left out (and so run again)."""
    units_dir = Path(out) / UNITS_DIR
    found = {}
    for su in sweep_units:
        result = _load(units_dir, su)
        if result is not None:
            found[su.stem] = result
    return found


@dataclass
class SweepRun:
    """What :func:`execute` did.

    Attributes
    ----------
    total : int
        Units of the sweep.
    skipped : int
        Units already stored, not submitted.
    submitted : int
    stored : list of str
        Stems stored by this run.
    failed : list of (SweepUnit, str)
        Units that raised (or could not be stored), with the error; not stored.
    interrupted : bool
        Ctrl-C or a cancellation stopped the run; what finished before is stored.
    """

    total: int = 0
    skipped: int = 0
    submitted: int = 0
    stored: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    interrupted: bool = False


#: ``on_start(n_total, n_skipped, n_to_run)`` and ``on_finished(k, n, sweep_unit,
#: finished, error)`` (error "" when the unit's Result was stored).
StartHook = Callable[[int, int, int], None] | None
FinishedHook = Callable[[int, int, SweepUnit, Any, str], None] | None


def execute(spec: SweepSpec, out: str | PathLike, executor, *, on_start: StartHook = None,
            on_finished: FinishedHook = None) -> SweepRun:
    """Run the units of ``spec`` not yet stored in ``out`` on ``executor`` and store each
    Result as it finishes.

    Parameters
    ----------
    spec : SweepSpec
    out : path
        The sweep's directory (:func:`check_out_dir` is applied first).
    executor : landsim.executors.Executor
    on_start : callable, optional
        ``on_start(total, skipped, to_run)`` before anything is submitted.
    on_finished : callable, optional
        ``on_finished(k, n, sweep_unit, finished, error)`` after the k-th of the n
        submitted units finished: ``finished`` is the executor's
        :class:`~landsim.executors.Finished`, ``error`` "" when its Result was stored,
        else why not (the unit raised, or storing failed).

    Returns
    -------
    SweepRun
        A KeyboardInterrupt (or the executor's Cancelled) cancels the executor and
        returns with ``interrupted`` set; what finished before it is stored.

    Raises
    ------
    SpecMismatch
        ``out`` holds another sweep.
    """
    from .executors import Cancelled

    out = Path(out)
    sweep_units = plan(spec)
    check_out_dir(spec, out)
    done = stored(sweep_units, out)
    todo = [su for su in sweep_units if su.stem not in done]
    run = SweepRun(total=len(sweep_units), skipped=len(done), submitted=len(todo))
    if on_start is not None:
        on_start(run.total, run.skipped, run.submitted)
    if not todo:
        return run
    units_dir = out / UNITS_DIR
    k = 0
    try:
        for finished in executor.submit([su.unit for su in todo]):
            su = todo[finished.index]
            k += 1
            error = ""
            if finished.result is None:
                error = finished.error or "unknown error"
            else:
                try:
                    save_result(finished.result, units_dir, su.stem)
                except Exception as exc:
                    error = f"could not be stored: {type(exc).__name__}: {exc}"
            if error:
                run.failed.append((su, error))
            else:
                run.stored.append(su.stem)
            if on_finished is not None:
                on_finished(k, len(todo), su, finished, error)
    except (KeyboardInterrupt, Cancelled):
        executor.cancel()
        run.interrupted = True
    return run

