"""Command-line values of ``landsim-client``: vectors, value lists, landscape files.

Vectors of dimension D are written ``zeros``, ``ones``, ``e<k>`` (unit vector of axis
k), ``random[:SEED]`` (standard normal), a comma list of D numbers, or a ``.npy`` file.
Lists of values are ``START:STOP:NUM`` (evenly spaced, both ends included), a comma list
or a ``.npy`` file. Bad values raise :class:`UsageError` (exit status 2).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .spec_record import SpecRecord

__all__ = ["UsageError", "vector", "values", "angles", "load_spec", "save_npz", "when"]


class UsageError(ValueError):
    """A bad command-line value (exit status 2)."""


def vector(text: str, dim: int, name: str) -> np.ndarray:
    """A (D,) vector from its command-line form (see the module docs)."""
    t = text.strip()
    if t == "zeros":
        return np.zeros(dim)
    if t == "ones":
        return np.ones(dim)
    if t.startswith("e") and t[1:].isdigit():
        k = int(t[1:])
        if not 0 <= k < dim:
            raise UsageError(f"--{name}: axis {k} is not in [0, {dim - 1}]")
        v = np.zeros(dim)
        v[k] = 1.0
        return v
    if t == "random" or t.startswith("random:"):
        seed = t.partition(":")[2] or "0"
        if not seed.isdigit():
            raise UsageError(f"--{name}: random:SEED needs a whole number, got {seed!r}")
        return np.random.default_rng(int(seed)).standard_normal(dim)
    v = values(t, name)
    if v.shape != (dim,):
        raise UsageError(f"--{name}: needs {dim} values (the landscape's dimension), got "
                         f"shape {list(v.shape)}")
    return v


def values(text: str, name: str) -> np.ndarray:
    """A 1-D float array from ``START:STOP:NUM``, a comma list or a ``.npy`` file."""
    t = text.strip()
    if t.endswith(".npy"):
        return np.asarray(np.load(t, allow_pickle=False), dtype=np.float64)
    try:
        if t.count(":") == 2:
            start, stop, num = t.split(":")
            if int(num) < 1:
                raise ValueError(f"NUM must be >= 1, got {num}")
            return np.linspace(float(start), float(stop), int(num))
        return np.array([float(x) for x in t.split(",") if x.strip()], dtype=np.float64)
    except ValueError as exc:
        raise UsageError(f"--{name}: expected START:STOP:NUM, a comma list of numbers or a "
                         f".npy file, got {text!r} ({exc})") from None


def angles(text: str) -> np.ndarray:
    """A bare count N means N angles evenly around the circle."""
    if text.strip().isdigit():
        n = int(text)
        if n < 1:
            raise UsageError(f"--angles: a count must be >= 1, got {n}")
        return np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    return values(text, "angles")


def load_spec(path: str) -> SpecRecord:
    """A landscape file (``.json`` or ``.npz``, as ``landsim.spec.LandscapeSpec`` writes
    them) as a :class:`~landsim_client.SpecRecord`."""
    p = Path(path)
    if p.suffix == ".npz":
        return SpecRecord.load_npz(p)
    if p.suffix == ".json":
        return SpecRecord.from_json(p.read_text())
    raise UsageError(f"--spec: expected a .json or .npz landscape file, got {path!r}")


def save_npz(path: str, arrays: dict) -> None:
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})


def when(t) -> str:
    return "-" if t is None else t.strftime("%Y-%m-%d %H:%M:%S")
