"""The one dtype table of the wire and the checks every array decoder makes.

An array travels as a dtype name from :data:`DTYPES`, a shape and raw little-endian
C-order bytes. The checks here look at a header (dtype, shape) before anything is
decoded, and at decoded values (bool bytes, finiteness); they raise
:class:`~landsim_wire.errors.WireError` naming the field, or
:class:`~landsim_wire.errors.WireLimitError` for a size over a cap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .errors import WireError, WireLimitError

__all__ = ["DTYPES", "FLOAT_DTYPES", "INT_DTYPES", "DEFAULT_CHUNK_BYTES", "DEFAULT_MAX_BYTES",
           "MAX_NDIM", "MAX_EXTENT_BYTES", "wire_array", "check_header", "check_values",
           "check_finite"]

#: Every dtype the wire knows, by its NdArray name (all little-endian).
DTYPES: dict[str, np.dtype] = {
    "float64": np.dtype("<f8"), "float32": np.dtype("<f4"), "int64": np.dtype("<i8"),
    "int32": np.dtype("<i4"), "uint8": np.dtype("u1"), "bool": np.dtype("?"),
}
#: Allow-list for points and directions.
FLOAT_DTYPES = ("float64", "float32")
#: Allow-list for indices.
INT_DTYPES = ("int64", "int32")
#: Default size of one NdArrayChunk's data (1 MiB).
DEFAULT_CHUNK_BYTES = 1 << 20
#: Default cap on one decoded array (1 GiB), where a receiver sets one.
DEFAULT_MAX_BYTES = 1 << 30
#: Most dimensions of an array on the wire (NumPy's own limit in NumPy 1.x).
MAX_NDIM = 32
#: Largest extent of a wire array: the product of its non-zero dims times the itemsize
#: (what NumPy needs to fit a signed 64-bit size even when another dim is 0).
MAX_EXTENT_BYTES = (1 << 63) - 1


def wire_array(array, dtypes: Sequence[str] | None = None) -> np.ndarray:
    """``array`` as it is sent: a wire dtype, little-endian, C order (copied only if needed).

    Booleans are sent as ``bool``; integer dtypes the wire does not know (int16, uint64,
    ...) as ``int64``; any other unknown dtype is a ValueError, as is a dtype outside
    ``dtypes`` (default: every wire dtype). A 0-d array stays 0-d.
    """
    a = np.asarray(array)
    if a.dtype.kind == "b":
        name = "bool"
    elif a.dtype.kind in "iu" and a.dtype.name not in DTYPES:
        name = "int64"
    else:
        name = a.dtype.name
    if name not in DTYPES or (dtypes is not None and name not in dtypes):
        allowed = sorted(DTYPES) if dtypes is None else list(dtypes)
        raise ValueError(f"cannot send an array of dtype {a.dtype}; allowed here: {allowed}")
    return np.asarray(a, dtype=DTYPES[name], order="C")


def check_header(field: str, dtype: str, shape: Sequence[int],
                 allowed_dtypes: Sequence[str] | None = None, max_bytes: int | None = None,
                 ndim: int | None = None) -> tuple[np.dtype, tuple[int, ...], int]:
    """Validate a dtype name and shape; decodes nothing.

    Parameters
    ----------
    field : str
        Field name used in errors (``"points"``; the errors name ``points.dtype`` ...).
    dtype : str
    shape : sequence of int
    allowed_dtypes : sequence of str, optional
        Accepted dtype names (default: every name in :data:`DTYPES`).
    max_bytes : int, optional
        Cap on ``prod(shape) * itemsize`` (WireLimitError above it); default none.
    ndim : int, optional
        Required number of dimensions.

    Returns
    -------
    (numpy.dtype, tuple of int, int)
        The dtype, the shape and the byte count.
    """
    allowed = tuple(DTYPES) if allowed_dtypes is None else tuple(allowed_dtypes)
    if dtype not in allowed or dtype not in DTYPES:
        raise WireError(f"must be one of {list(allowed)}, got {dtype!r}", f"{field}.dtype")
    if len(shape) > MAX_NDIM:
        raise WireError(f"must have at most {MAX_NDIM} dimensions, got {len(shape)}",
                        f"{field}.shape")
    shape = tuple(int(n) for n in shape)
    if ndim is not None and len(shape) != ndim:
        raise WireError(f"must have {ndim} dimension(s), got shape {_brief(shape)}",
                        f"{field}.shape")
    if any(n < 0 for n in shape):
        raise WireError(f"every dim must be >= 0, got {_brief(shape)}", f"{field}.shape")
    dt = DTYPES[dtype]
    # Python ints: no overflow. The extent ignores zero dims, so that a shape such as
    # (0, 2**63 - 1), of 0 bytes, is refused here and not by NumPy at decoding.
    extent = math.prod(n for n in shape if n) * dt.itemsize
    if extent > MAX_EXTENT_BYTES:
        raise WireError(f"shape {_brief(shape)} of {dtype} is too big for any array: its "
                        f"non-zero dims times the itemsize exceed 2**63 - 1 bytes",
                        f"{field}.shape")
    nbytes = math.prod(shape) * dt.itemsize
    if max_bytes is not None and nbytes > max_bytes:
        raise WireLimitError(field, max_bytes, nbytes, f"an array of shape {_brief(shape)} "
                                                       f"and dtype {dtype} has {nbytes} bytes")
    return dt, shape, nbytes


def _brief(shape: tuple[int, ...]) -> str:
    """``shape`` as a list for a message, cut after 8 dims."""
    return str(list(shape)) if len(shape) <= 8 else str(list(shape[:8]))[:-1] + ", ...]"


def check_values(field: str, a: np.ndarray, finite: bool = False) -> None:
    """Reject bool bytes other than 0 and 1 and, if ``finite``, NaN and inf."""
    if a.dtype == np.bool_:
        raw = a.view(np.uint8)
        if raw.size and raw.max() > 1:
            raise WireError(f"bool values must be bytes 0 or 1, got {int(raw.max())}",
                            f"{field}.data")
    if finite:
        check_finite(field, a)


def check_finite(field: str, rows: np.ndarray, first_row: int = 0) -> None:
    """WireError naming the first NaN or inf of ``rows`` (float dtypes), with its index
    in the whole array (``rows``, of shape (n, ...), starts at row ``first_row``)."""
    if rows.dtype.kind == "f" and not np.isfinite(rows).all():
        where = np.unravel_index(int(np.argmin(np.isfinite(rows))), rows.shape)
        index = [int(where[0]) + first_row, *map(int, where[1:])] if where else []
        raise WireError(f"must be finite, found {float(rows[where])} at index {index}", field)
