"""What a job runs: the experiment registry of each kind and configs built from overrides.

A job names a kind ("toy" or "real"), an experiment id, a JSON object of overrides of
the experiment's ``Config``, a root seed, a replicate index and an arm ("claim" or
"control"): exactly a :class:`landsim.units.Unit`, which the worker builds and runs with
:func:`landsim.units.run_unit`. :func:`resolve` finds the experiment module with
:func:`landsim.units.experiment_module` (the registry of each kind is
:data:`landsim.units.REGISTRIES`), and :func:`build_config` applies the overrides to the
default or quick config, so the server (at creation) and the worker (at run time) build
the same config.

The server process never imports torch: it resolves toy jobs only and checks that the
real registry is installed with :func:`real_available`, which looks at files without
importing anything; real configs are built by the torch worker.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
import math
from pathlib import Path
from types import ModuleType
from typing import Any

# ARMS: "claim" (config itself), "control" (its control); KINDS: "toy", "real"
from landsim.results import ARMS, KINDS
from landsim.seeding import SEED_MAX, check_seed  # noqa: F401 (SEED_MAX: kept for importers)
from landsim.units import REGISTRIES, experiment_module

__all__ = ["KINDS", "ARMS", "REPLICATE_MAX", "JobSpec", "KindUnavailable", "resolve",
           "real_available", "build_config", "config_dict", "parse_overrides",
           "canonical_json"]

#: Largest replicate index a job may run (a reproduction runs a handful per claim).
REPLICATE_MAX = 9999
MAX_CONFIG_JSON_BYTES = 64 * 1024  # largest config JSON accepted from a client


class KindUnavailable(ValueError):
    """The registry of a kind cannot be imported (e.g. "real" without torch)."""


@dataclasses.dataclass(frozen=True)
class JobSpec:
    """Everything a worker needs to run one job, validated in one place.

    Attributes
    ----------
    experiment : str
        Claim id, e.g. "E1" (checked against the registry by :func:`resolve`).
    kind : {"toy", "real"}
    config : dict
        JSON object: overrides of the experiment's Config (for toy jobs, the full config).
    quick : bool
        Apply ``config`` to ``quick_config()`` instead of ``Config()``.
    seed : int
        In [0, 2**63 - 1].
    max_attempts : int
        Starts allowed before a lost worker makes the job FAILED, in [1, 10].
    replicate : int
        Replicate index, in [0, REPLICATE_MAX]: the run draws from
        ``SeedSequence(seed, spawn_key=(replicate,))``.
    arm : {"claim", "control"}
        Run ``config`` itself, or the experiment's ``control_config`` of it.
    sweep : dict or None
        A sweep job's grid (:func:`landsim_server.sweep_jobs.sweep_from_proto`): then
        ``config`` is the base of every grid point, ``seed`` the root seed, and
        ``replicate`` and ``arm`` keep their defaults. None: one unit.
    """

    experiment: str
    kind: str
    config: dict
    quick: bool
    seed: int
    max_attempts: int = 3
    replicate: int = 0
    arm: str = "claim"
    sweep: dict | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if not isinstance(self.experiment, str) or not self.experiment:
            raise ValueError(f"experiment_id must be a non-empty string, got "
                             f"{self.experiment!r}")
        if not isinstance(self.config, dict):
            raise ValueError(f"config must be a JSON object, got {type(self.config).__name__}")
        try:
            size = len(canonical_json(self.config).encode())
        except (TypeError, ValueError) as exc:
            raise ValueError(f"config must hold only JSON values (no NaN or inf): {exc}") from exc
        if size > MAX_CONFIG_JSON_BYTES:
            raise ValueError(f"config must be at most {MAX_CONFIG_JSON_BYTES} bytes of JSON, got "
                             f"{size}")
        if not isinstance(self.quick, bool):
            raise ValueError(f"quick must be a bool, got {self.quick!r}")
        check_seed(self.seed)  # the library's one seed rule ([0, SEED_MAX])
        if (isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int)
                or not 1 <= self.max_attempts <= 10):
            raise ValueError(f"max_attempts must be an integer in [1, 10], got "
                             f"{self.max_attempts!r}")
        if (isinstance(self.replicate, bool) or not isinstance(self.replicate, int)
                or not 0 <= self.replicate <= REPLICATE_MAX):
            raise ValueError(f"replicate must be an integer in [0, {REPLICATE_MAX}], got "
                             f"{self.replicate!r}")
        if self.arm not in ARMS:
            raise ValueError(f"arm must be one of {ARMS}, got {self.arm!r}")
        if self.sweep is not None and (not isinstance(self.sweep, dict)
                                       or set(self.sweep) != {"axes", "seeds", "controls"}):
            raise ValueError(f"sweep must be None or a dict of axes, seeds and controls, got "
                             f"{self.sweep!r}")
        if self.sweep is not None and (self.replicate != 0 or self.arm != "claim"):
            raise ValueError("a sweep job runs replicates 0 .. seeds-1 (and both arms with "
                             "controls): its replicate must be 0 and its arm the claim, got "
                             f"replicate={self.replicate}, arm={self.arm!r}")

    def fingerprint(self) -> str:
        """Canonical JSON of the spec: two requests are the same job iff these are equal.

        ``replicate`` and ``arm`` appear only when they differ from their defaults (0,
        "claim"), so a spec with the defaults has the fingerprint it had before these
        fields existed, and request ids stored then still match their retries.
        """
        data = {"experiment": self.experiment, "kind": self.kind, "config": self.config,
                "quick": self.quick, "seed": self.seed, "max_attempts": self.max_attempts}
        if self.replicate != 0:
            data["replicate"] = self.replicate
        if self.arm != "claim":
            data["arm"] = self.arm
        if self.sweep is not None:
            data["sweep"] = self.sweep
        return canonical_json(data)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces (NaN/inf rejected)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def real_available() -> str | None:
    """None when the real registry and torch are installed, else the reason they are not.

    Nothing is imported: ``landsim/real/experiments`` is looked for on disk and torch with
    :func:`importlib.util.find_spec` on the top-level name only.
    """
    top, *inner = REGISTRIES["real"].split(".")
    top_spec = importlib.util.find_spec(top)
    roots = [Path(p).joinpath(*inner) for p in (top_spec.submodule_search_locations or [])]
    if not any(root.with_suffix(".py").is_file() or (root / "__init__.py").is_file()
               for root in roots):
        return f"the registry {REGISTRIES['real']} is not installed"
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed"
    return None


def resolve(kind: str, experiment_id: str) -> ModuleType:
    """The experiment module of ``experiment_id`` in the registry of ``kind``.

    Raises
    ------
    KindUnavailable
        The registry cannot be imported ("kind real is not available: ...").
    ValueError
        Unknown kind or experiment id (the message names the valid ones).
    """
    if kind not in REGISTRIES:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    try:  # import the registry first, so that a missing one is told from a bad id
        importlib.import_module(REGISTRIES[kind])
    except Exception as exc:  # ImportError, or torch failing to load
        raise KindUnavailable(f"kind {kind} is not available: {type(exc).__name__}: "
                              f"{exc}") from exc
    try:
        return experiment_module(experiment_id, kind)
    except ValueError as exc:
        raise ValueError(f"experiment_id: {exc}") from exc


def parse_overrides(text: str) -> dict:
    """A JSON object of config overrides from a client (at most 64 KiB)."""
    if len(text.encode()) > MAX_CONFIG_JSON_BYTES:
        raise ValueError(f"config_json must be at most {MAX_CONFIG_JSON_BYTES} bytes, got "
                         f"{len(text.encode())}")
    if not text.strip():
        return {}
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"config_json is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ValueError(f"config_json must be a JSON object, got {type(value).__name__}")
    return value


def _reject_constant(name: str) -> None:
    raise ValueError(f"config_json must not contain {name} (JSON has no such number)")


def _coerce(name: str, value: Any, default: Any) -> Any:
    """``value`` in the type of the field's default: whole doubles to int, lists to tuples."""
    if isinstance(default, bool):
        return value
    if isinstance(default, int) and isinstance(value, float) and not isinstance(value, bool):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if isinstance(default, tuple) and isinstance(value, list):
        inner = default[0] if default else None
        return tuple(_coerce(f"{name}[{i}]", v, inner) for i, v in enumerate(value))
    return value


def build_config(module: ModuleType, overrides: dict, quick: bool) -> Any:
    """The experiment's Config (or quick_config()) with ``overrides`` applied and validated.

    Raises
    ------
    ValueError
        An unknown field (the message lists the valid ones) or a value the Config rejects
        (its message names the field and the valid range).
    """
    base = module.quick_config() if quick else module.Config()
    fields = {f.name: f for f in dataclasses.fields(base)}
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise ValueError(f"config field {unknown[0]!r} is not a field of "
                         f"{module.__name__}.Config; valid fields: {sorted(fields)}")
    values = {name: _coerce(name, v, getattr(base, name)) for name, v in overrides.items()}
    try:
        return dataclasses.replace(base, **values)
    except TypeError as exc:  # a comparison of a wrong type inside __post_init__
        raise ValueError(f"config: {exc}") from exc


def config_dict(config: Any) -> dict:
    """Every field of a Config as JSON values (tuples as lists)."""
    out = {}
    for f in dataclasses.fields(config):
        v = getattr(config, f.name)
        out[f.name] = list(v) if isinstance(v, tuple) else v
    return out
