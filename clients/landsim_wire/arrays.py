"""NumPy arrays <-> ``landsim.v1.NdArray`` / ``NdArrayChunk``: the one codec of the wire.

The wire format is ``NdArray`` (a dtype name from :data:`DTYPES`, a shape, raw
little-endian C-order bytes) and, for arrays too large for one message, a sequence of
``NdArrayChunk`` (the first carries dtype and full shape, every one its byte offset).

- :func:`to_ndarray` / :func:`from_ndarray`: one message each way; decoding checks the
  dtype against an allow-list, every dim >= 0, ``prod(shape) * itemsize == len(data)``
  and, as asked, a byte cap, the number of dimensions and finiteness;
- :func:`iter_chunks` / :func:`iter_encoded_chunks`: an array -> pieces of about
  ``chunk_bytes`` (messages, or bytes serialised once by :mod:`landsim_wire.chunks`);
- :class:`ChunkAssembler`, :func:`assemble`, :class:`RowReader`: pieces -> arrays or rows
  (:mod:`landsim_wire.assembly`).

Errors are :class:`WireError` (naming the field, e.g. ``points.dtype``) or, for a size
over a cap, :class:`WireLimitError`. The defaults suit a client reading what a server
sent (any wire dtype, no cap, writable results); a server passes its allow-lists and
caps and asks for read-only views (no copy).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from .assembly import ChunkAssembler, RowReader, assemble
from .chunks import encode_chunks
from .dtypes import (
    DEFAULT_CHUNK_BYTES,
    DEFAULT_MAX_BYTES,
    DTYPES,
    FLOAT_DTYPES,
    INT_DTYPES,
    check_finite,
    check_header,
    check_values,
    wire_array,
)
from .errors import WireError, WireLimitError
from .v1 import ndarray_pb2

__all__ = [
    "DTYPES", "FLOAT_DTYPES", "INT_DTYPES", "DEFAULT_CHUNK_BYTES", "DEFAULT_MAX_BYTES",
    "to_ndarray", "from_ndarray", "iter_chunks", "iter_encoded_chunks", "ChunkAssembler",
    "assemble", "RowReader", "check_finite", "WireError", "WireLimitError",
]


def to_ndarray(array, dtypes: Sequence[str] | None = None) -> ndarray_pb2.NdArray:
    """Encode an array as an NdArray.

    Parameters
    ----------
    array : array_like
        Any shape; converted to little-endian C order (a copy only when needed), bools
        to ``bool`` and unknown integer dtypes to ``int64``.
    dtypes : sequence of str, optional
        Allowed dtype names (ValueError otherwise); default: every wire dtype.

    Returns
    -------
    landsim.v1.NdArray
    """
    a = wire_array(array, dtypes)
    return ndarray_pb2.NdArray(dtype=a.dtype.name, shape=a.shape, data=a.tobytes())


def from_ndarray(msg: ndarray_pb2.NdArray, field: str = "array",
                 allowed_dtypes: Sequence[str] | None = None, max_bytes: int | None = None,
                 *, ndim: int | None = None, finite: bool = False,
                 copy: bool = True) -> np.ndarray:
    """Decode an NdArray after validating it.

    Parameters
    ----------
    msg : landsim.v1.NdArray
    field : str
        Field name used in errors (``"points"``).
    allowed_dtypes : sequence of str, optional
        dtype names accepted here (default: every name in :data:`DTYPES`).
    max_bytes : int, optional
        Cap on ``prod(shape) * itemsize``, checked before decoding (WireLimitError).
    ndim : int, optional
        Required number of dimensions.
    finite : bool
        Reject NaN and inf (float dtypes).
    copy : bool
        Return a writable copy (default) or a read-only view of the message bytes.

    Returns
    -------
    ndarray
        Of the message's shape and (native little-endian) dtype.
    """
    dt, shape, nbytes = check_header(field, msg.dtype, msg.shape, allowed_dtypes, max_bytes,
                                     ndim)
    if len(msg.data) != nbytes:
        raise WireError(f"shape {list(shape)} of {msg.dtype} needs {nbytes} bytes, got "
                        f"{len(msg.data)}", f"{field}.data")
    a = np.frombuffer(msg.data, dtype=dt).reshape(shape)
    check_values(field, a, finite)
    return a.copy() if copy else a


def iter_chunks(name: str, array, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                dtypes: Sequence[str] | None = None, *, offset: int = 0,
                full_shape: Sequence[int] | None = None
                ) -> Iterator[ndarray_pb2.NdArrayChunk]:
    """Cut an array into NdArrayChunk pieces of at most ``chunk_bytes`` data each.

    Pieces hold whole elements (``chunk_bytes`` is rounded down to a multiple of the
    itemsize, at least one element); the piece at byte 0 carries dtype and the full
    shape. An empty array gives one piece with no data.

    Parameters
    ----------
    name : str
        ``NdArrayChunk.name`` of every piece.
    array : array_like
        Converted as by :func:`to_ndarray`.
    chunk_bytes : int
        Target piece size, >= 1.
    dtypes : sequence of str, optional
        Allowed dtype names, as for :func:`to_ndarray`.
    offset : int
        Byte offset of ``array`` inside a larger array that is sent part by part (e.g.
        rows ``r0:r1`` of a (B, D) result: ``offset = r0 * D * itemsize``).
    full_shape : sequence of int, optional
        Shape of that larger array (default: ``array.shape``).

    Yields
    ------
    landsim.v1.NdArrayChunk
    """
    if chunk_bytes < 1:
        raise ValueError(f"chunk_bytes must be >= 1, got {chunk_bytes}")
    a = wire_array(array, dtypes)
    step = max(a.dtype.itemsize, chunk_bytes - chunk_bytes % a.dtype.itemsize)
    shape = a.shape if full_shape is None else tuple(full_shape)
    raw = memoryview(a.reshape(-1).view(np.uint8))
    total = raw.nbytes
    pos = 0
    while True:
        stop = min(total, pos + step)
        chunk = ndarray_pb2.NdArrayChunk(name=name, offset=offset + pos,
                                         data=bytes(raw[pos:stop]))
        if offset + pos == 0:
            chunk.dtype = a.dtype.name
            chunk.shape.extend(shape)
        yield chunk
        pos = stop
        if pos >= total:
            return


def iter_encoded_chunks(field_number: int, name: str, array,
                        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                        dtypes: Sequence[str] | None = None, *, offset: int = 0,
                        full_shape: Sequence[int] | None = None) -> Iterator[bytes]:
    """:func:`iter_chunks`, each piece already serialised as the NdArrayChunk field
    ``field_number`` of an outer message (:func:`landsim_wire.chunks.encode_chunks`, for
    a stream whose serializer passes bytes through): the array's bytes are copied once,
    straight into the message."""
    return encode_chunks(field_number, name, wire_array(array, dtypes), chunk_bytes,
                         offset=offset, full_shape=full_shape)
