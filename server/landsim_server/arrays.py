"""The server's side of the wire codec: :mod:`landsim_wire.arrays` with the server's
defaults and errors.

The codec (one dtype table, NdArray and chunk encoding, the checks on what arrives) is
:mod:`landsim_wire.arrays`, shared with the client. Here it gets the server's stricter
defaults, for arrays that come *in*:

- decoding accepts :data:`FLOAT_DTYPES` unless told otherwise, caps every array at
  :data:`DEFAULT_MAX_BYTES` and hands out read-only views of the received bytes (no
  copy);
- its errors are domain errors: :class:`~landsim_server.errors.InvalidArgument` naming
  the field (``points.dtype``), or :class:`~landsim_server.errors.ResourceExhausted`
  naming the field and the limit.

Encoding (:func:`to_ndarray`, :func:`iter_chunks`, :func:`iter_encoded_chunks`) is the
codec's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from landsim_wire import arrays as _wire
from landsim_wire.arrays import (
    DEFAULT_CHUNK_BYTES,
    DEFAULT_MAX_BYTES,
    DTYPES,
    FLOAT_DTYPES,
    INT_DTYPES,
    iter_chunks,
    iter_encoded_chunks,
    to_ndarray,
)
from landsim_wire.v1 import ndarray_pb2

from .errors import wire_errors

__all__ = [
    "DTYPES", "FLOAT_DTYPES", "INT_DTYPES", "DEFAULT_CHUNK_BYTES", "DEFAULT_MAX_BYTES",
    "to_ndarray", "from_ndarray", "iter_chunks", "ChunkAssembler", "assemble", "RowReader",
    "check_finite", "iter_encoded_chunks",
]


def from_ndarray(msg: ndarray_pb2.NdArray, field: str,
                 allowed_dtypes: Sequence[str] = FLOAT_DTYPES,
                 max_bytes: int = DEFAULT_MAX_BYTES, *, ndim: int | None = None,
                 finite: bool = False) -> np.ndarray:
    """Decode a request's NdArray after validating it
    (:func:`landsim_wire.arrays.from_ndarray`).

    Parameters
    ----------
    msg : landsim.v1.NdArray
    field : str
        Request field name used in errors (``"points"``).
    allowed_dtypes : sequence of str
        dtype names accepted here (subset of :data:`DTYPES`).
    max_bytes : int
        Cap on ``prod(shape) * itemsize``; larger is RESOURCE_EXHAUSTED.
    ndim : int, optional
        Required number of dimensions.
    finite : bool
        Reject NaN and inf (float dtypes).

    Returns
    -------
    ndarray
        Read-only view of the message bytes, of the given shape and dtype.
    """
    with wire_errors():
        return _wire.from_ndarray(msg, field, allowed_dtypes, max_bytes, ndim=ndim,
                                  finite=finite, copy=False)


class ChunkAssembler(_wire.ChunkAssembler):
    """:class:`landsim_wire.arrays.ChunkAssembler` with the server's defaults (float
    dtypes, :data:`DEFAULT_MAX_BYTES`, read-only views) and domain errors.

    Parameters
    ----------
    name : str
        Expected ``NdArrayChunk.name``; also the field name in errors.
    allowed_dtypes : sequence of str
    max_bytes : int
    ndim : int, optional
    finite : bool
        Reject NaN and inf (checked on the rows handed out by :meth:`rows` / :meth:`array`).
    """

    def __init__(self, name: str, allowed_dtypes: Sequence[str] = FLOAT_DTYPES,
                 max_bytes: int = DEFAULT_MAX_BYTES, *, ndim: int | None = None,
                 finite: bool = False) -> None:
        super().__init__(name, allowed_dtypes, max_bytes, ndim=ndim, finite=finite,
                         readonly=True)

    def add(self, chunk) -> None:
        """Append one piece (validated; raises InvalidArgument or ResourceExhausted)."""
        with wire_errors():
            super().add(chunk)

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` (all complete) as a read-only view, shape (stop-start, ...)."""
        with wire_errors():
            return super().rows(start, stop)

    def array(self) -> np.ndarray:
        """The whole array (read-only view); InvalidArgument if bytes are missing."""
        with wire_errors():
            return super().array()


def assemble(chunks: Iterable[ndarray_pb2.NdArrayChunk],
             allowed_dtypes: Sequence[str] = tuple(DTYPES),
             max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, np.ndarray]:
    """Collect pieces of one or more arrays (interleaved, each in order) into arrays.

    Returns
    -------
    dict of str to ndarray
        One read-only array per chunk name, in order of first appearance.
    """
    with wire_errors():
        return _wire.assemble(chunks, allowed_dtypes, max_bytes, readonly=True)


class RowReader(_wire.RowReader):
    """:class:`landsim_wire.arrays.RowReader` with the server's defaults (float dtypes,
    :data:`DEFAULT_MAX_BYTES`) and domain errors: complete rows of a chunked array as
    read-only views of the pieces' bytes, without assembling it.

    Parameters
    ----------
    name, allowed_dtypes, max_bytes, ndim
        As for :class:`ChunkAssembler`; ``ndim`` must be >= 1 (rows run along axis 0).
    on_header : callable, optional
        Called with the validated shape when the first piece arrives; may raise to
        reject it.
    """

    def __init__(self, name: str, allowed_dtypes: Sequence[str] = FLOAT_DTYPES,
                 max_bytes: int = DEFAULT_MAX_BYTES, *, ndim: int | None = None,
                 on_header=None) -> None:
        super().__init__(name, allowed_dtypes, max_bytes, ndim=ndim, on_header=on_header)

    def add(self, chunk) -> list[np.ndarray]:
        """Take one piece (an NdArrayChunk or a :class:`~landsim_wire.chunks.ChunkView`);
        returns the rows it completes, as arrays of shape (n, ...) in order."""
        with wire_errors():
            return super().add(chunk)

    def finish(self) -> None:
        """Raise InvalidArgument if bytes are missing (the stream ended early)."""
        with wire_errors():
            super().finish()


def check_finite(field: str, rows: np.ndarray, first_row: int = 0) -> None:
    """InvalidArgument naming the first NaN or inf of ``rows`` (float dtypes), with its
    index in the whole array (``rows`` starts at row ``first_row``)."""
    with wire_errors():
        _wire.check_finite(field, rows, first_row)
