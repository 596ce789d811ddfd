"""A landscape specification as plain NumPy arrays, in landsim's own file formats.

:class:`SpecRecord` is what :meth:`landsim_client.Client.get_landscape` returns as
``Landscape.spec``, and what the client builds from a ``to_dict()`` form; it reads and
writes the same ``"landsim.LandscapeSpec/1"`` JSON and ``.npz`` files as
``landsim.spec.LandscapeSpec`` (byte for byte), without importing ``landsim``. It checks
only the shape of the data; the server validates the geometry. To get a full
``landsim.spec.LandscapeSpec``, use ``landsim.client_records.spec_from_record``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from os import PathLike
from typing import Any

import numpy as np

__all__ = ["SpecRecord", "WedgeRecord", "SPEC_FORMAT"]

#: The format tag of landscape files and ``to_dict()`` forms.
SPEC_FORMAT = "landsim.LandscapeSpec/1"
_WEDGE_FIELDS = ("dim", "eps0", "eps1", "short_axes", "short_frame", "anchor")


def _array(value: Any, dtype, name: str) -> np.ndarray | None:
    if value is None:
        return None
    try:
        out = np.ascontiguousarray(np.asarray(value, dtype=dtype)).view()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of numbers: {exc}") from None
    out.setflags(write=False)  # a read-only view: the caller's array stays writable
    return out


@dataclass(frozen=True, eq=False)
class WedgeRecord:
    """One wedge of a :class:`SpecRecord`.

    Attributes
    ----------
    dim : int
        Dimension D.
    eps0, eps1 : float
        Width law ``eps0 + eps1 * r``.
    short_axes : ndarray of int64, shape (s,), or None
        Short axes of an axis-aligned wedge.
    short_frame : ndarray of float64, shape (D, s), or None
        Orthonormal short frame of a rotated wedge.
    anchor : ndarray of float64, shape (D,), or None
        The apex (None: the origin).
    """

    dim: int
    eps0: float
    eps1: float
    short_axes: np.ndarray | None = None
    short_frame: np.ndarray | None = None
    anchor: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "dim", int(self.dim))
        object.__setattr__(self, "eps0", float(self.eps0))
        object.__setattr__(self, "eps1", float(self.eps1))
        if (self.short_axes is None) == (self.short_frame is None):
            raise ValueError("give exactly one of short_axes (axis-aligned wedge) or "
                             "short_frame (rotated wedge)")
        axes = self.short_axes
        if axes is not None:
            raw = np.asarray(axes)
            if raw.dtype.kind not in "iu" and not (
                    raw.dtype.kind == "f" and np.all(np.isfinite(raw))
                    and np.all(raw == np.round(raw))):
                raise ValueError(f"short_axes must be integers, got dtype {raw.dtype}")
        object.__setattr__(self, "short_axes", _array(axes, np.int64, "short_axes"))
        object.__setattr__(self, "short_frame",
                           _array(self.short_frame, np.float64, "short_frame"))
        object.__setattr__(self, "anchor", _array(self.anchor, np.float64, "anchor"))

    @property
    def kind(self) -> str:
        """``"axis"`` or ``"rotated"``."""
        return "axis" if self.short_axes is not None else "rotated"

    @property
    def n_short(self) -> int:
        """Number s of short directions."""
        return int(self.short_axes.size if self.short_axes is not None
                   else self.short_frame.shape[1])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (arrays as lists), as ``landsim.spec.WedgeSpec.to_dict``."""
        return {"dim": self.dim, "eps0": self.eps0, "eps1": self.eps1,
                "short_axes": None if self.short_axes is None else self.short_axes.tolist(),
                "short_frame": None if self.short_frame is None
                else self.short_frame.tolist(),
                "anchor": None if self.anchor is None else self.anchor.tolist()}

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(_same(getattr(self, f), getattr(other, f)) for f in _WEDGE_FIELDS)

    __hash__ = None  # holds arrays


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (a is not None and b is not None and a.dtype == b.dtype
                and np.array_equal(a, b))
    return a == b


@dataclass(frozen=True, eq=False)
class SpecRecord:
    """A landscape: its wedges and union rule, as plain arrays.

    Attributes
    ----------
    wedges : tuple of WedgeRecord
        K >= 1 wedges of one dimension D.
    union : {"hard", "soft"}
    tau : float
        Temperature of the soft union.
    """

    wedges: tuple[WedgeRecord, ...]
    union: str = "hard"
    tau: float = 1.0

    def __post_init__(self) -> None:
        wedges = tuple(self.wedges)
        if not wedges or not all(isinstance(w, WedgeRecord) for w in wedges):
            raise ValueError("a landscape needs at least one WedgeRecord")
        object.__setattr__(self, "wedges", wedges)
        object.__setattr__(self, "tau", float(self.tau))

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
        """Frame kind of the wedges."""
        return self.wedges[0].kind

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return (self.union, self.tau, self.wedges) == (other.union, other.tau, other.wedges)

    __hash__ = None  # holds arrays

    # ---------------------------------------------------------------- conversions
    @classmethod
    def from_spec(cls, spec: Any) -> SpecRecord:
        """A record of anything shaped like ``landsim.spec.LandscapeSpec`` (attributes
        ``wedges``, ``union``, ``tau``; wedges with ``dim``, ``eps0``, ``eps1``,
        ``short_axes``, ``short_frame``, ``anchor``), without importing landsim."""
        if isinstance(spec, SpecRecord):
            return spec
        if not hasattr(spec, "wedges") or not hasattr(spec, "union"):
            raise TypeError(f"expected a landscape spec (wedges, union, tau), got "
                            f"{type(spec).__name__}")
        dim = getattr(spec, "dim", None)
        wedges = tuple(WedgeRecord(**{f: getattr(w, f, None) for f in _WEDGE_FIELDS[1:]},
                                   dim=getattr(w, "dim", dim)) for w in spec.wedges)
        return cls(wedges=wedges, union=spec.union, tau=getattr(spec, "tau", 1.0))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, as ``landsim.spec.LandscapeSpec.to_dict``."""
        return {"format": SPEC_FORMAT, "union": self.union, "tau": self.tau,
                "wedges": [w.to_dict() for w in self.wedges]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpecRecord:
        """Inverse of :meth:`to_dict` (rejects unknown or missing fields)."""
        if not isinstance(data, dict) or data.get("format") != SPEC_FORMAT:
            got = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"not a landsim landscape: format must be {SPEC_FORMAT!r}, got "
                             f"{got!r}")
        extra = set(data) - {"format", "union", "tau", "wedges"}
        if extra:
            raise ValueError(f"unknown landscape fields {sorted(extra)}")
        if not isinstance(data.get("wedges"), list):
            raise ValueError("a landscape dict needs 'wedges', a list of wedge dicts")
        wedges = []
        for w in data["wedges"]:
            if not isinstance(w, dict) or set(w) - set(_WEDGE_FIELDS) or \
                    not {"dim", "eps0", "eps1"} <= set(w):
                raise ValueError(f"a wedge dict needs dim, eps0 and eps1 and takes "
                                 f"{list(_WEDGE_FIELDS)}, got {w!r:.80}")
            wedges.append(WedgeRecord(**w))
        return cls(wedges=tuple(wedges), union=data.get("union", "hard"),
                   tau=data.get("tau", 1.0))

    def to_json(self) -> str:
        """The JSON text ``landsim.spec.LandscapeSpec.to_json`` writes."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> SpecRecord:
        return cls.from_dict(json.loads(text))

    def save_npz(self, path: str | PathLike) -> None:
        """Store in a NumPy ``.npz`` (no pickles), as ``LandscapeSpec.save_npz``."""
        arrays: dict[str, np.ndarray] = {
            "format": np.array(SPEC_FORMAT), "union": np.array(self.union),
            "tau": np.array(self.tau), "dim": np.array(self.dim),
            "n_wedges": np.array(self.n_wedges)}
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
    def load_npz(cls, path: str | PathLike) -> SpecRecord:
        """Read a landscape ``.npz`` written by :meth:`save_npz` or by landsim."""
        with np.load(path, allow_pickle=False) as z:
            if "format" not in z or str(z["format"]) != SPEC_FORMAT:
                raise ValueError(f"{path!s} is not a landsim landscape .npz")
            dim, wedges = int(z["dim"]), []
            for k in range(int(z["n_wedges"])):
                eps0, eps1 = z[f"w{k}_eps"]
                wedges.append(WedgeRecord(
                    dim=dim, eps0=float(eps0), eps1=float(eps1),
                    short_axes=z[f"w{k}_axes"] if f"w{k}_axes" in z else None,
                    short_frame=z[f"w{k}_frame"] if f"w{k}_frame" in z else None,
                    anchor=z[f"w{k}_anchor"] if f"w{k}_anchor" in z else None))
            return cls(wedges=tuple(wedges), union=str(z["union"]), tau=float(z["tau"]))
