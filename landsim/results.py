"""Result records of experiments and their storage (JSON + NPZ, exact round trip).

A :class:`Result` carries everything needed to read, plot and re-run an experiment:
its id and kind ("toy" on the analytic landscape, "real" for the torch worker), its arm
("claim", or "control": the configuration where the claim must not hold), the full config,
the root seed and the replicate index (the run's random draws come from
:func:`landsim.seeding.replicate_sequence` of the two), the package version, timings,
scalar metrics, named array series and a :class:`Verdict` computed from the numbers.

On disk a result is two files side by side, ``<stem>.json`` (everything but the arrays,
floats written exactly) and ``<stem>.npz`` (the series, no pickles).
"""

from __future__ import annotations

import json
import math
import platform
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__

__all__ = ["Verdict", "Result", "make_result", "save_result", "load_result", "load_results",
           "sort_key", "FORMAT", "ARMS"]

FORMAT = "landsim.Result/2"
#: Earlier formats that still load (format 1 had no arm and no replicate: claim, 0).
READABLE_FORMATS = ("landsim.Result/1", FORMAT)
KINDS = ("toy", "real")
#: "claim": the configuration the claim is about; "control": its negative control.
ARMS = ("claim", "control")


@dataclass(frozen=True)
class Verdict:
    """Whether a claim holds on one configuration, and why.

    Attributes
    ----------
    holds : bool
        Computed from the metrics, never written by hand.
    rule : str
        The test and threshold used, e.g. "largest rise <= 1% of the start loss".
    evidence : str
        One sentence with the numbers behind the verdict.
    """

    holds: bool
    rule: str
    evidence: str

    def __post_init__(self) -> None:
        if not isinstance(self.holds, (bool, np.bool_)):
            raise ValueError(f"holds must be a bool, got {self.holds!r}")
        object.__setattr__(self, "holds", bool(self.holds))
        for name in ("rule", "evidence"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"{name} must be a non-empty string")


def _jsonable(value: Any) -> Any:
    """Config values as JSON types (tuples -> lists, numpy scalars -> Python)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(f"config value {value!r} of type {type(value).__name__} is not "
                     "JSON-representable")


@dataclass(frozen=True, eq=False)
class Result:
    """One run of one experiment.

    Attributes
    ----------
    experiment : str
        Claim id, "E1" .. "E7".
    kind : {"toy", "real"}
    config : dict
        The experiment's config as JSON-ready values.
    seed : int
        Root seed of the run.
    version : str
        landsim version that produced it.
    timings : dict of str to float
        Seconds per phase (at least "total").
    metrics : dict of str to float
        Scalar measurements (NaN allowed).
    series : dict of str to ndarray
        Named arrays (any shape) behind the figures.
    verdict : Verdict
    machine : str
        Where it ran.
    arm : {"claim", "control"}
        The claim's own configuration, or its negative control.
    replicate : int
        Index of the replicate (>= 0): its draws come from
        ``SeedSequence(seed).spawn(replicate + 1)[replicate]``.
    node : str
        Which node of a cluster ran it: ``host:pid`` for the local executor, the Ray
        node id for the Ray one, "" when it ran in the calling process.
    """

    experiment: str
    kind: str
    config: dict
    seed: int
    version: str
    timings: dict
    metrics: dict
    series: dict = field(repr=False)
    verdict: Verdict
    machine: str = ""
    arm: str = "claim"
    replicate: int = 0
    node: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.experiment, str) or not self.experiment:
            raise ValueError(f"experiment must be a non-empty string, got {self.experiment!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.arm not in ARMS:
            raise ValueError(f"arm must be one of {ARMS}, got {self.arm!r}")
        for name in ("seed", "replicate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
            object.__setattr__(self, name, int(value))
        object.__setattr__(self, "config", _jsonable(dict(self.config)))
        metrics = {}
        for k, v in self.metrics.items():
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.number)):
                raise ValueError(f"metric {k!r} must be a real number, got {v!r}")
            metrics[str(k)] = float(v)
        object.__setattr__(self, "metrics", metrics)
        object.__setattr__(self, "timings", {str(k): float(v) for k, v in self.timings.items()})
        series = {}
        for k, v in self.series.items():
            arr = np.asarray(v)
            if arr.dtype == object:
                raise ValueError(f"series {k!r} must be a numeric array, got dtype object")
            series[str(k)] = arr
        object.__setattr__(self, "series", series)
        if not isinstance(self.verdict, Verdict):
            raise ValueError(f"verdict must be a Verdict, got {type(self.verdict).__name__}")

    @property
    def stem(self) -> str:
        """File stem: ``<experiment>-<kind>-<arm>-seed<seed>-r<replicate>``."""
        return (f"{self.experiment}-{self.kind}-{self.arm}-seed{self.seed}"
                f"-r{self.replicate}")

    def to_json_dict(self) -> dict:
        """Everything but the series arrays (listed by name, dtype and shape)."""
        out = {
            "format": FORMAT, "experiment": self.experiment, "kind": self.kind,
            "arm": self.arm, "config": self.config, "seed": self.seed,
            "replicate": self.replicate, "version": self.version,
            "machine": self.machine, "timings": self.timings,
            "metrics": {k: _float_out(v) for k, v in self.metrics.items()},
            "series": {k: {"dtype": str(v.dtype), "shape": list(v.shape)}
                       for k, v in self.series.items()},
            "verdict": {"holds": self.verdict.holds, "rule": self.verdict.rule,
                        "evidence": self.verdict.evidence},
        }
        if self.node:  # only results that ran on an executor's node say which
            out["node"] = self.node
        return out


def _float_out(x: float) -> float | str:
    return x if math.isfinite(x) else repr(x)  # JSON has no NaN/inf: "nan", "inf", "-inf"


def _float_in(x: float | str) -> float:
    return float(x)


def make_result(experiment: str, config: Any, seed: int | np.random.SeedSequence,
                metrics: dict, series: dict, verdict: Verdict, timings: dict,
                kind: str = "toy") -> Result:
    """Build a Result, filling in the version and machine; ``config`` may be a dataclass.

    ``seed`` is the run's root seed, or the SeedSequence it ran on: a replicate's
    sequence ``SeedSequence(s, spawn_key=(i,))`` is recorded as seed ``s``, replicate
    ``i`` (the arm is set by :func:`landsim.units.run_unit`, which knows it).
    """
    if hasattr(config, "__dataclass_fields__"):
        config = {name: getattr(config, name) for name in config.__dataclass_fields__}
    replicate = 0
    if isinstance(seed, np.random.SeedSequence):
        key = tuple(seed.spawn_key)
        if not isinstance(seed.entropy, int) or len(key) > 1:
            raise ValueError("a result's seed must be a root seed or a replicate's "
                             f"SeedSequence(seed, spawn_key=(i,)), got {seed!r}")
        seed, replicate = seed.entropy, (key[0] if key else 0)
    return Result(experiment=experiment, kind=kind, config=dict(config), seed=int(seed),
                  replicate=int(replicate),
                  version=__version__, timings=timings, metrics=metrics, series=series,
                  verdict=verdict, machine=f"{platform.machine()} {platform.system()} "
                                            f"Python {platform.python_version()}")


def save_result(result: Result, directory: str | PathLike, stem: str | None = None) -> Path:
    """Write ``<stem>.json`` and ``<stem>.npz`` into ``directory``; returns the JSON path.

    ``stem`` defaults to ``result.stem``; a sweep, whose units differ in their config too,
    gives its own. The arrays are written first and the JSON last, through a temporary
    name, so a JSON file that exists always has its arrays beside it (a run stopped while
    writing leaves no half-stored result behind).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = result.stem if stem is None else stem
    path = directory / f"{stem}.json"
    np.savez(directory / f"{stem}.npz", **result.series)
    tmp = directory / f".{stem}.json.tmp"
    tmp.write_text(json.dumps(result.to_json_dict(), indent=1))
    tmp.replace(path)
    return path


def load_result(path: str | PathLike) -> Result:
    """Read a result written by :func:`save_result` (give the .json path)."""
    path = Path(path)
    data = json.loads(path.read_text())
    if data.get("format") not in READABLE_FORMATS:
        raise ValueError(f"{path} is not a landsim result: format must be one of "
                         f"{READABLE_FORMATS}, got {data.get('format')!r}")
    npz = path.with_suffix(".npz")
    with np.load(npz, allow_pickle=False) as z:
        series = {k: z[k] for k in data["series"]}
    v = data["verdict"]
    return Result(experiment=data["experiment"], kind=data["kind"], config=data["config"],
                  seed=data["seed"], version=data["version"], timings=data["timings"],
                  metrics={k: _float_in(x) for k, x in data["metrics"].items()},
                  series=series, verdict=Verdict(v["holds"], v["rule"], v["evidence"]),
                  machine=data.get("machine", ""), node=data.get("node", ""),
                  arm=data.get("arm", "claim"),
                  replicate=data.get("replicate", 0))


def load_results(directory: str | PathLike) -> list[Result]:
    """Every result in ``directory``, sorted by experiment id, kind, arm, seed and
    replicate."""
    out = []
    for path in sorted(Path(directory).glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(data, dict) and data.get("format") in READABLE_FORMATS:
            out.append(load_result(path))
    return sorted(out, key=sort_key)


def sort_key(result: Result) -> tuple:
    """Order of results in listings and reports: experiment, kind, arm, seed, replicate."""
    return (result.experiment, result.kind, ARMS.index(result.arm), result.seed,
            result.replicate)
