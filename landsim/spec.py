"""Frozen specifications of wedge-union landscapes (docs/model.md, section 1).

A :class:`LandscapeSpec` is the whole description of an analytic landscape: a tuple
of :class:`WedgeSpec` plus the union rule. Specs are immutable, validated once at
construction (``_validate_wedge`` / ``_validate_landscape`` are the only checks), and
carry their arrays read-only. Errors name the bad value and the valid range.

The single rules other modules call: :func:`check_n_short` (a wedge has s in [1, D - 1]
short directions), :func:`check_spec` (a LandscapeSpec argument) and
:data:`EPS1_DEFAULT` (the default width growth eps1).

Axis-aligned wedges keep their short axes *sorted* (the order of a set of axes carries
no meaning and the kernels rely on it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from os import PathLike
from typing import Any

import numpy as np

from ._checks import as_generator, choice, int_at_least, real_in

__all__ = [
    "WedgeSpec",
    "LandscapeSpec",
    "random_landscape",
    "check_n_short",
    "check_spec",
    "EPS1_DEFAULT",
    "UNIONS",
    "FRAME_KINDS",
    "ORTHONORMAL_TOL",
]

UNIONS = ("hard", "soft")
FRAME_KINDS = ("axis", "rotated")
#: Largest allowed entry of |Q^T Q - I| for a rotated short frame.
ORTHONORMAL_TOL = 1e-8
#: Default growth eps1 of the width law w = eps0 + eps1 * r (every eps1 default refers here).
EPS1_DEFAULT = 0.05


def check_n_short(n_short: Any, dim: int, name: str = "n_short") -> int:
    """THE rule for the number s of short directions of a wedge in dimension D.

    s is an integer in [1, D - 1]: a wedge needs at least one short direction and at least
    one long one.

    Parameters
    ----------
    n_short : int
        The candidate s.
    dim : int
        Dimension D (>= 1; for D = 1 no s is valid).
    name : str
        The argument's name, shown in the error.

    Returns
    -------
    int
        ``n_short`` as a Python int.

    Raises
    ------
    ValueError
        Naming ``name``, the value and the range [1, D - 1].
    """
    if isinstance(n_short, np.generic):
        n_short = n_short.item()  # messages show 12, not np.int64(12)
    if isinstance(n_short, bool) or not isinstance(n_short, int) or not 1 <= n_short <= dim - 1:
        raise ValueError(f"{name} must be an integer in [1, dim - 1 = {dim - 1}] (a wedge "
                         f"needs at least one long direction), got {n_short!r}")
    return int(n_short)


def check_spec(spec: Any) -> LandscapeSpec:
    """``spec`` itself, if it is a :class:`LandscapeSpec`; ValueError otherwise."""
    if not isinstance(spec, LandscapeSpec):
        raise ValueError(f"spec must be a LandscapeSpec, got {type(spec).__name__}")
    return spec


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


def _validate_wedge(w: WedgeSpec) -> dict[str, Any]:
    """Check one wedge and return its canonical field values."""
    dim = int_at_least("dim", w.dim, 1)
    eps0 = real_in("eps0", w.eps0, 0.0)
    eps1 = real_in("eps1", w.eps1, 0.0)
    if (w.short_axes is None) == (w.short_frame is None):
        raise ValueError("give exactly one of short_axes (axis-aligned wedge) or "
                         "short_frame (rotated wedge)")
    axes = frame = None
    if w.short_axes is not None:
        raw = np.asarray(w.short_axes)
        if raw.ndim != 1:
            raise ValueError(f"short_axes must be 1-D, got shape {raw.shape}")
        check_n_short(raw.size, dim, name="the number of short_axes")
        if raw.dtype.kind not in "iu":
            if raw.dtype.kind == "f" and np.all(np.isfinite(raw)) and np.all(raw == np.round(raw)):
                raw = raw.astype(np.int64)
            else:
                raise ValueError(f"short_axes must be integers, got dtype {raw.dtype}")
        axes = np.sort(raw.astype(np.int64))
        bad = axes[(axes < 0) | (axes >= dim)]
        if bad.size:
            raise ValueError(f"short_axes must lie in [0, {dim - 1}], got {int(bad[0])}")
        dup = axes[1:][axes[1:] == axes[:-1]]
        if dup.size:
            raise ValueError(f"short_axes must be distinct, axis {int(dup[0])} repeats")
        axes = _readonly(axes)
    else:
        frame = np.asarray(w.short_frame)
        if frame.dtype.kind not in "fiu":
            raise ValueError(f"short_frame must be real, got dtype {frame.dtype}")
        frame = frame.astype(np.float64)
        if frame.ndim != 2 or frame.shape[0] != dim:
            raise ValueError(f"short_frame must have shape (dim={dim}, s), got {frame.shape}")
        check_n_short(frame.shape[1], dim, name="the number of short_frame columns")
        if not np.all(np.isfinite(frame)):
            raise ValueError("short_frame must be finite, found NaN or inf")
        err = float(np.max(np.abs(frame.T @ frame - np.eye(frame.shape[1]))))
        if err > ORTHONORMAL_TOL:
            raise ValueError(f"short_frame columns must be orthonormal: max |Q^T Q - I| = "
                             f"{err:.3g}, allowed <= {ORTHONORMAL_TOL:g}")
        frame = _readonly(frame)
    anchor = None
    if w.anchor is not None:
        anchor = np.asarray(w.anchor)
        if anchor.dtype.kind not in "fiu":
            raise ValueError(f"anchor must be real, got dtype {anchor.dtype}")
        anchor = anchor.astype(np.float64)
        if anchor.shape != (dim,):
            raise ValueError(f"anchor must have shape (dim={dim},), got {anchor.shape}")
        if not np.all(np.isfinite(anchor)):
            raise ValueError("anchor must be finite, found NaN or inf")
        anchor = None if not np.any(anchor) else _readonly(anchor)
    return dict(dim=dim, eps0=eps0, eps1=eps1, short_axes=axes, short_frame=frame,
                anchor=anchor)


def _validate_landscape(spec: LandscapeSpec) -> dict[str, Any]:
    wedges = tuple(spec.wedges)
    if not wedges:
        raise ValueError("a landscape needs at least 1 wedge, got 0")
    for k, w in enumerate(wedges):
        if not isinstance(w, WedgeSpec):
            raise ValueError(f"wedges[{k}] must be a WedgeSpec, got {type(w).__name__}")
    dims = {w.dim for w in wedges}
    if len(dims) != 1:
        raise ValueError(f"all wedges must share one dim, got dims {sorted(dims)}")
    kinds = {w.kind for w in wedges}
    if len(kinds) != 1:
        raise ValueError("all wedges of a landscape must have the same frame kind "
                         f"('axis' or 'rotated'), got {sorted(kinds)}")
    choice("union", spec.union, UNIONS)
    tau = real_in("tau", spec.tau, 0.0, low_open=True)
    return dict(wedges=wedges, union=spec.union, tau=tau)


def _digest(*parts: Any) -> str:
    """Content fingerprint: arrays by their exact bytes, specs by their own fingerprint."""
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        if isinstance(p, np.ndarray):
            h.update(str(p.dtype).encode() + str(p.shape).encode())
            h.update(np.ascontiguousarray(p).tobytes())
        elif isinstance(p, _Frozen):
            h.update(p._key().encode())
        elif isinstance(p, tuple):
            h.update(b"(" + _digest(*p).encode() + b")")
        elif isinstance(p, float):
            h.update(p.hex().encode())
        else:
            h.update(repr(p).encode())
        h.update(b"|")
    return h.hexdigest()


class _Frozen:
    """Content-based equality and hashing for frozen dataclasses holding arrays."""

    def _key(self) -> str:
        cached = self.__dict__.get("_digest_cache")
        if cached is None:
            cached = _digest(type(self).__name__, *(getattr(self, f.name) for f in fields(self)))
            object.__setattr__(self, "_digest_cache", cached)
        return cached

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


@dataclass(frozen=True, eq=False)
class WedgeSpec(_Frozen):
    """One n-wedge: short directions, width law and anchor.

    Parameters
    ----------
    dim : int
        Dimension D of the weight space.
    eps0, eps1 : float
        Width law ``w = eps0 + eps1 * r`` with r the long radius; both >= 0.
    short_axes : array of int, shape (s,), optional
        Coordinate axes of an axis-aligned wedge (distinct, in [0, D-1], 1 <= s <= D - 1,
        see :func:`check_n_short`); stored sorted.
    short_frame : array of float, shape (D, s), optional
        Orthonormal columns spanning the short directions of a rotated wedge
        (1 <= s <= D - 1).
    anchor : array of float, shape (D,), optional
        The wedge's apex; ``None`` (stored for an all-zero anchor too) means the origin.

    Exactly one of ``short_axes`` and ``short_frame`` is given.
    """

    dim: int
    eps0: float
    eps1: float
    short_axes: np.ndarray | None = None
    short_frame: np.ndarray | None = None
    anchor: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name, value in _validate_wedge(self).items():
            object.__setattr__(self, name, value)

    @property
    def kind(self) -> str:
        """``"axis"`` or ``"rotated"``."""
        return "axis" if self.short_axes is not None else "rotated"

    @property
    def n_short(self) -> int:
        """Number s of short directions."""
        return int(self.short_axes.size if self.short_axes is not None
                   else self.short_frame.shape[1])

    @property
    def n_long(self) -> int:
        """Number n = D - s of long directions."""
        return self.dim - self.n_short

    def anchor_or_origin(self) -> np.ndarray:
        """The anchor as a float64 array of shape (D,), zeros for the origin."""
        return np.zeros(self.dim) if self.anchor is None else self.anchor

    def short_basis(self) -> np.ndarray:
        """Dense short frame Q of shape (D, s) (identity columns for axis wedges)."""
        if self.short_frame is not None:
            return self.short_frame
        q = np.zeros((self.dim, self.n_short))
        q[self.short_axes, np.arange(self.n_short)] = 1.0
        return q

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (arrays as lists)."""
        return {
            "dim": self.dim, "eps0": self.eps0, "eps1": self.eps1,
            "short_axes": None if self.short_axes is None else self.short_axes.tolist(),
            "short_frame": None if self.short_frame is None else self.short_frame.tolist(),
            "anchor": None if self.anchor is None else self.anchor.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WedgeSpec:
        """Inverse of :meth:`to_dict`; validates like the constructor."""
        known = {"dim", "eps0", "eps1", "short_axes", "short_frame", "anchor"}
        extra = set(data) - known
        if extra:
            raise ValueError(f"unknown wedge fields {sorted(extra)}; valid: {sorted(known)}")
        return cls(**{k: data.get(k) for k in known if k in data})


@dataclass(frozen=True, eq=False)
class LandscapeSpec(_Frozen):
    """A landscape: the union of wedges.

    Parameters
    ----------
    wedges : sequence of WedgeSpec
        K >= 1 wedges sharing one ``dim`` and one frame kind.
    union : {"hard", "soft"}
        ``"hard"``: L = min_k l_k. ``"soft"``: L = -tau log mean_k exp(-l_k / tau).
    tau : float
        Temperature of the soft union, > 0 (ignored by the hard union).
    """

    wedges: tuple[WedgeSpec, ...]
    union: str = "hard"
    tau: float = 1.0

    def __post_init__(self) -> None:
        for name, value in _validate_landscape(self).items():
            object.__setattr__(self, name, value)

    @property
    def dim(self) -> int:
        """Dimension D."""
        return self.wedges[0].dim

    @property
    def n_wedges(self) -> int:
        """Number K of wedges."""
        return len(self.wedges)

    @property
    def kind(self) -> str:
        """Frame kind shared by all wedges."""
        return self.wedges[0].kind

    def replace(self, **changes: Any) -> LandscapeSpec:
        """A copy with some of ``wedges``, ``union``, ``tau`` changed (validated)."""
        args = {"wedges": self.wedges, "union": self.union, "tau": self.tau}
        unknown = set(changes) - set(args)
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}; valid: {sorted(args)}")
        args.update(changes)
        return LandscapeSpec(**args)

    # ---------------------------------------------------------------- storage
    def to_dict(self) -> dict[str, Any]:
        return {"format": "landsim.LandscapeSpec/1", "union": self.union, "tau": self.tau,
                "wedges": [w.to_dict() for w in self.wedges]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LandscapeSpec:
        """Inverse of :meth:`to_dict`; rejects unknown or missing fields."""
        if not isinstance(data, dict) or data.get("format") != "landsim.LandscapeSpec/1":
            got = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise ValueError("not a landsim landscape: format must be "
                             f"'landsim.LandscapeSpec/1', got {got!r}")
        known = {"format", "union", "tau", "wedges"}
        extra = set(data) - known
        if extra:
            raise ValueError(f"unknown landscape fields {sorted(extra)}; valid: {sorted(known)}")
        if not isinstance(data.get("wedges"), list):
            raise ValueError("a landscape dict needs 'wedges', a list of wedge dicts")
        return cls(wedges=tuple(WedgeSpec.from_dict(w) for w in data["wedges"]),
                   union=data.get("union", "hard"), tau=data.get("tau", 1.0))

    def to_json(self) -> str:
        """Exact JSON text (floats round-trip through ``repr``); for small landscapes."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> LandscapeSpec:
        return cls.from_dict(json.loads(text))

    def save_npz(self, path: str | PathLike) -> None:
        """Store in a NumPy ``.npz`` (no pickles), for large frames."""
        arrays: dict[str, np.ndarray] = {
            "format": np.array("landsim.LandscapeSpec/1"),
            "union": np.array(self.union), "tau": np.array(self.tau),
            "dim": np.array(self.dim), "n_wedges": np.array(self.n_wedges),
        }
        for k, w in enumerate(self.wedges):
            arrays[f"w{k}_eps"] = np.array([w.eps0, w.eps1])
            if w.short_axes is not None:
                arrays[f"w{k}_axes"] = w.short_axes
            else:
                arrays[f"w{k}_frame"] = w.short_frame
            if w.anchor is not None:
                arrays[f"w{k}_anchor"] = w.anchor
        np.savez(path, **arrays)

    @classmethod
    def load_npz(cls, path: str | PathLike) -> LandscapeSpec:
        with np.load(path, allow_pickle=False) as z:
            if "format" not in z or str(z["format"]) != "landsim.LandscapeSpec/1":
                raise ValueError(f"{path!s} is not a landsim landscape .npz")
            dim, wedges = int(z["dim"]), []
            for k in range(int(z["n_wedges"])):
                eps0, eps1 = z[f"w{k}_eps"]
                wedges.append(WedgeSpec(
                    dim=dim, eps0=float(eps0), eps1=float(eps1),
                    short_axes=z[f"w{k}_axes"] if f"w{k}_axes" in z else None,
                    short_frame=z[f"w{k}_frame"] if f"w{k}_frame" in z else None,
                    anchor=z[f"w{k}_anchor"] if f"w{k}_anchor" in z else None))
            return cls(wedges=tuple(wedges), union=str(z["union"]), tau=float(z["tau"]))


def _per_wedge(name: str, value: Any, n_wedges: int) -> list:
    if np.ndim(value) == 0:
        return [value] * n_wedges
    values = list(np.asarray(value).ravel())
    if len(values) != n_wedges:
        raise ValueError(f"{name} must be a scalar or have n_wedges={n_wedges} entries, "
                         f"got {len(values)}")
    return values


def random_landscape(dim: int, n_wedges: int, n_short: int | Sequence[int], *,
                     kind: str = "axis", eps0: float | Iterable[float] = 0.0,
                     eps1: float | Iterable[float] = EPS1_DEFAULT, anchor_scale: float = 0.0,
                     union: str = "hard", tau: float = 1.0,
                     seed: int | np.random.Generator | None = 0) -> LandscapeSpec:
    """Draw a random landscape (docs/model.md, section 1, "Random landscapes").

    Parameters
    ----------
    dim : int
        Dimension D.
    n_wedges : int
        Number K of wedges.
    n_short : int or sequence of int
        Short directions per wedge (one value or K values), each in [1, D - 1]
        (:func:`check_n_short`).
    kind : {"axis", "rotated"}
        Axis index sets drawn without replacement, or frames from the QR of a Gaussian
        (D, s) matrix with the sign convention diag(R) > 0.
    eps0, eps1 : float or sequence of float
        Width law per wedge (one value or K values); eps1 defaults to
        :data:`EPS1_DEFAULT`.
    anchor_scale : float
        0 puts every anchor at the origin; otherwise anchors ~ N(0, anchor_scale^2).
    union, tau : see :class:`LandscapeSpec`.
    seed : int, numpy.random.SeedSequence, numpy.random.Generator or None
        Same seed, same landscape (NumPy's PCG64 stream); the seed rule is
        :func:`landsim.seeding.check_seed`.

    Returns
    -------
    LandscapeSpec
    """
    dim = int_at_least("dim", dim, 1)
    n_wedges = int_at_least("n_wedges", n_wedges, 1)
    choice("kind", kind, FRAME_KINDS)
    anchor_scale = real_in("anchor_scale", anchor_scale, 0.0)
    shorts = [check_n_short(s, dim) for s in _per_wedge("n_short", n_short, n_wedges)]
    e0s = _per_wedge("eps0", eps0, n_wedges)
    e1s = _per_wedge("eps1", eps1, n_wedges)
    rng = as_generator(seed)
    wedges = []
    for k in range(n_wedges):
        s = shorts[k]
        if kind == "axis":
            axes, frame = rng.choice(dim, size=s, replace=False), None
        else:
            q, r = np.linalg.qr(rng.standard_normal((dim, s)))
            axes, frame = None, q * np.where(np.diag(r) < 0, -1.0, 1.0)
        anchor = rng.normal(0.0, anchor_scale, dim) if anchor_scale > 0 else None
        wedges.append(WedgeSpec(dim=dim, eps0=e0s[k], eps1=e1s[k], short_axes=axes,
                                short_frame=frame, anchor=anchor))
    return LandscapeSpec(wedges=tuple(wedges), union=union, tau=tau)
