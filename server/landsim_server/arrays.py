"""NdArray <-> NumPy, validated before anything is decoded, and chunked array streams.

The wire format is ``landsim.v1.NdArray`` (dtype name, shape, raw little-endian C-order
bytes) and, for arrays too large for one message, a sequence of ``NdArrayChunk`` (the
first carries dtype and full shape, every one its byte offset). The API:

- :func:`to_ndarray` (array -> NdArray) and :func:`from_ndarray` (NdArray -> array, after
  checking the dtype against an allow-list, every dim >= 0, ``prod(shape) * itemsize ==
  len(data)``, a byte cap and, optionally, the number of dimensions and finiteness);
- :func:`iter_chunks` (array -> NdArrayChunk pieces of about ``chunk_bytes``) and
  :class:`ChunkAssembler` (pieces -> array, same checks, rows usable as they arrive);
  :func:`assemble` collects a whole stream of pieces of several arrays;
- :class:`RowReader` (pieces -> complete rows as views of the pieces' bytes, no
  reassembly) and :func:`check_finite`, for a consumer that computes row by row.

Bad input raises :class:`~landsim_server.errors.InvalidArgument` (naming the field) or,
for a size over a cap, :class:`~landsim_server.errors.ResourceExhausted` (naming the
field and the limit). Decoded arrays are read-only views of the message bytes (no copy).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from landsim.v1 import ndarray_pb2
from landsim.wire import encode_chunks

from .errors import InvalidArgument, ResourceExhausted

__all__ = [
    "DTYPES", "FLOAT_DTYPES", "INT_DTYPES", "DEFAULT_CHUNK_BYTES", "DEFAULT_MAX_BYTES",
    "to_ndarray", "from_ndarray", "iter_chunks", "ChunkAssembler", "assemble", "RowReader",
    "check_finite", "iter_encoded_chunks",
]

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
#: Default cap on one decoded array (1 GiB).
DEFAULT_MAX_BYTES = 1 << 30


def to_ndarray(array) -> ndarray_pb2.NdArray:
    """Encode an array (any shape, a dtype in :data:`DTYPES`) as an NdArray.

    Parameters
    ----------
    array : array_like
        Converted to little-endian C order (a copy only when needed).

    Returns
    -------
    landsim.v1.NdArray
    """
    a = _wire_array(array)
    return ndarray_pb2.NdArray(dtype=a.dtype.name, shape=a.shape, data=a.tobytes())


def _wire_array(array) -> np.ndarray:
    a = np.asarray(array)
    name = a.dtype.name
    if name not in DTYPES:
        raise ValueError(f"cannot send dtype {a.dtype}; the wire knows {sorted(DTYPES)}")
    return np.asarray(a, dtype=DTYPES[name], order="C")  # keeps 0-d arrays 0-d


def _check_header(field: str, dtype: str, shape: Sequence[int], allowed_dtypes: Sequence[str],
                  max_bytes: int, ndim: int | None) -> tuple[np.dtype, tuple[int, ...], int]:
    """Validate dtype and shape; returns (dtype, shape, byte count). Decodes nothing."""
    if dtype not in allowed_dtypes or dtype not in DTYPES:
        raise InvalidArgument(f"{field}.dtype", f"must be one of {list(allowed_dtypes)}, "
                                                f"got {dtype!r}")
    shape = tuple(int(n) for n in shape)
    if ndim is not None and len(shape) != ndim:
        raise InvalidArgument(f"{field}.shape", f"must have {ndim} dimension(s), got shape "
                                                f"{list(shape)}")
    negative = [n for n in shape if n < 0]
    if negative:
        raise InvalidArgument(f"{field}.shape", f"every dim must be >= 0, got {list(shape)}")
    dt = DTYPES[dtype]
    nbytes = math.prod(shape) * dt.itemsize  # Python ints: no overflow
    if nbytes > max_bytes:
        raise ResourceExhausted(f"{field}", max_bytes, nbytes,
                                f"an array of shape {list(shape)} and dtype {dtype} has "
                                f"{nbytes} bytes")
    return dt, shape, nbytes


def _check_values(field: str, a: np.ndarray, finite: bool) -> None:
    if a.dtype == np.bool_:
        raw = a.view(np.uint8)
        if raw.size and raw.max() > 1:
            raise InvalidArgument(f"{field}.data", "bool values must be bytes 0 or 1, got "
                                                   f"{int(raw.max())}")
    if finite:
        check_finite(field, a)


def from_ndarray(msg: ndarray_pb2.NdArray, field: str,
                 allowed_dtypes: Sequence[str] = FLOAT_DTYPES,
                 max_bytes: int = DEFAULT_MAX_BYTES, *, ndim: int | None = None,
                 finite: bool = False) -> np.ndarray:
    """Decode an NdArray after validating it.

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
        Read-only, of the given shape and (native little-endian) dtype.
    """
    dt, shape, nbytes = _check_header(field, msg.dtype, msg.shape, allowed_dtypes, max_bytes,
                                      ndim)
    if len(msg.data) != nbytes:
        raise InvalidArgument(f"{field}.data", f"shape {list(shape)} of {msg.dtype} needs "
                                               f"{nbytes} bytes, got {len(msg.data)}")
    a = np.frombuffer(msg.data, dtype=dt).reshape(shape)
    _check_values(field, a, finite)
    return a


def iter_chunks(name: str, array, chunk_bytes: int = DEFAULT_CHUNK_BYTES, *,
                offset: int = 0, full_shape: Sequence[int] | None = None
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
        A dtype in :data:`DTYPES`.
    chunk_bytes : int
        Target piece size, >= 1.
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
    a = _wire_array(array)
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


class _ChunkSequence:
    """The checks every reader of one chunked array makes: the chunk's name, the first
    chunk's dtype and shape (allow-list, dims >= 0, byte cap, ``ndim``), later chunks
    repeating them or leaving them empty, pieces in order and inside the array.
    Subclasses take the validated header in :meth:`_header` and the bytes from
    :meth:`_accept`."""

    def __init__(self, name: str, allowed_dtypes: Sequence[str], max_bytes: int,
                 ndim: int | None) -> None:
        self.name = name
        self.allowed_dtypes = tuple(allowed_dtypes)
        self.max_bytes = max_bytes
        self.ndim = ndim
        self.dtype: np.dtype | None = None
        self.shape: tuple[int, ...] | None = None
        self.nbytes = 0
        self.received = 0

    @property
    def started(self) -> bool:
        """Whether the first piece (dtype and shape) has arrived."""
        return self.shape is not None

    @property
    def done(self) -> bool:
        """Whether every byte has arrived."""
        return self.started and self.received == self.nbytes

    def _header(self, dtype: np.dtype, shape: tuple[int, ...], nbytes: int) -> None:
        """Take the first chunk's validated header (subclasses may check more first)."""
        self.dtype, self.shape, self.nbytes = dtype, shape, nbytes

    def _accept(self, chunk) -> tuple[memoryview, int]:
        """Validate one piece; returns its bytes and the offset where they start (the
        count of bytes received is advanced past them)."""
        if chunk.name != self.name:
            raise InvalidArgument(f"{self.name}.name", f"expected chunks of {self.name!r}, "
                                                       f"got {chunk.name!r}")
        if not self.started:
            if chunk.offset != 0:
                raise InvalidArgument(f"{self.name}.offset", "the first chunk must have "
                                                             f"offset 0, got {chunk.offset}")
            self._header(*_check_header(self.name, chunk.dtype, chunk.shape,
                                        self.allowed_dtypes, self.max_bytes, self.ndim))
        elif chunk.dtype or len(chunk.shape):
            if chunk.dtype != self.dtype.name or tuple(chunk.shape) != self.shape:
                raise InvalidArgument(f"{self.name}.shape", "later chunks must repeat the first "
                                      f"chunk's dtype and shape or leave them empty, got "
                                      f"{chunk.dtype!r} {list(chunk.shape)}")
        if chunk.offset != self.received:
            raise InvalidArgument(f"{self.name}.offset", f"expected offset {self.received} "
                                                         f"(chunks in order), got {chunk.offset}")
        data = memoryview(chunk.data)  # one access: a protobuf bytes field copies on each
        start, end = self.received, self.received + data.nbytes
        if end > self.nbytes:
            raise InvalidArgument(f"{self.name}.data", f"chunk ends at byte {end}, beyond the "
                                                       f"array's {self.nbytes} bytes")
        self.received = end
        return data, start

    def _missing(self) -> InvalidArgument:
        return InvalidArgument(f"{self.name}.data", f"stream ended after {self.received} of "
                                                    f"{self.nbytes} bytes")


class ChunkAssembler(_ChunkSequence):
    """Rebuild one array from its NdArrayChunk pieces, validating as they come.

    The first piece's dtype and shape are checked (allow-list, dims >= 0, byte cap)
    before the buffer is allocated; every piece must continue at the byte where the
    previous one ended and stay inside the array. Rows along the first axis can be used
    as soon as they are complete (:meth:`rows`), so a consumer can compute while the
    rest is still arriving.

    Parameters
    ----------
    name : str
        Expected ``NdArrayChunk.name``; also the field name in errors.
    allowed_dtypes : sequence of str
        dtype names accepted.
    max_bytes : int
        Cap on the assembled array's bytes (RESOURCE_EXHAUSTED above it).
    ndim : int, optional
        Required number of dimensions.
    finite : bool
        Reject NaN and inf (checked on the rows handed out by :meth:`rows` / :meth:`array`).
    """

    def __init__(self, name: str, allowed_dtypes: Sequence[str] = FLOAT_DTYPES,
                 max_bytes: int = DEFAULT_MAX_BYTES, *, ndim: int | None = None,
                 finite: bool = False) -> None:
        super().__init__(name, allowed_dtypes, max_bytes, ndim)
        self.finite = finite
        self._buffer: np.ndarray | None = None

    def _header(self, dtype: np.dtype, shape: tuple[int, ...], nbytes: int) -> None:
        super()._header(dtype, shape, nbytes)
        self._buffer = np.empty(nbytes, dtype=np.uint8)

    def add(self, chunk: ndarray_pb2.NdArrayChunk) -> None:
        """Append one piece (validated; raises InvalidArgument or ResourceExhausted)."""
        data, start = self._accept(chunk)
        self._buffer[start:self.received] = np.frombuffer(data, dtype=np.uint8)

    def _typed(self) -> np.ndarray:
        if not self.started:
            raise InvalidArgument(self.name, "no chunk of this array has arrived")
        return self._buffer.view(self.dtype).reshape(self.shape)

    @property
    def rows_ready(self) -> int:
        """Rows along the first axis received completely (0 before the first piece)."""
        if not self.started or not self.shape:
            return 0
        row_bytes = self.nbytes // self.shape[0] if self.shape[0] else 0
        return self.shape[0] if row_bytes == 0 else self.received // row_bytes

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` (all complete) as a read-only view, shape (stop-start, ...)."""
        if not 0 <= start <= stop <= self.rows_ready:
            raise ValueError(f"rows {start}:{stop} are not all received "
                             f"({self.rows_ready} rows ready)")
        out = self._typed()[start:stop]
        out.flags.writeable = False
        _check_values(self.name, out, self.finite)
        return out

    def array(self) -> np.ndarray:
        """The whole array (read-only view); InvalidArgument if bytes are missing."""
        if not self.done:
            raise self._missing()
        out = self._typed()
        out.flags.writeable = False
        _check_values(self.name, out, self.finite)
        return out


def assemble(chunks: Iterable[ndarray_pb2.NdArrayChunk],
             allowed_dtypes: Sequence[str] = tuple(DTYPES),
             max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, np.ndarray]:
    """Collect pieces of one or more arrays (interleaved, each in order) into arrays.

    Returns
    -------
    dict of str to ndarray
        One read-only array per chunk name, in order of first appearance.
    """
    parts: dict[str, ChunkAssembler] = {}
    for chunk in chunks:
        if chunk.name not in parts:
            parts[chunk.name] = ChunkAssembler(chunk.name, allowed_dtypes, max_bytes)
        parts[chunk.name].add(chunk)
    return {name: part.array() for name, part in parts.items()}


class RowReader(_ChunkSequence):
    """Validate the NdArrayChunk pieces of one array and hand out its complete rows as
    they arrive, without assembling the array.

    The same checks as :class:`ChunkAssembler` (name, dtype allow-list, shape, byte
    cap, pieces in order and inside the array), but no buffer: :meth:`add` returns the
    rows completed by a piece as read-only views of the piece's own bytes. A row split
    between two pieces is copied (one row per piece at most), so pieces that hold whole
    rows cost no copy at all. Finiteness is *not* checked here (see :func:`check_finite`),
    so that it can run off the event loop.

    Parameters
    ----------
    name, allowed_dtypes, max_bytes, ndim
        As for :class:`ChunkAssembler`; ``ndim`` must be >= 1 (rows run along axis 0).
    on_header : callable, optional
        Called with the validated shape when the first piece arrives, before any row is
        cut; may raise to reject it.
    """

    def __init__(self, name: str, allowed_dtypes: Sequence[str] = FLOAT_DTYPES,
                 max_bytes: int = DEFAULT_MAX_BYTES, *, ndim: int | None = None,
                 on_header=None) -> None:
        super().__init__(name, allowed_dtypes, max_bytes, ndim)
        self.on_header = on_header
        self._row_bytes = 0
        self._partial = bytearray()

    def _header(self, dtype: np.dtype, shape: tuple[int, ...], nbytes: int) -> None:
        if not shape:
            raise InvalidArgument(f"{self.name}.shape", "must have at least one "
                                                        "dimension, got []")
        if self.on_header is not None:
            self.on_header(shape)
        super()._header(dtype, shape, nbytes)
        self._row_bytes = nbytes // shape[0] if shape[0] else 0

    def add(self, chunk) -> list[np.ndarray]:
        """Take one piece (an NdArrayChunk or a :class:`~landsim.wire.ChunkView`);
        returns the rows it completes, as arrays of shape (n, ...) in order."""
        data, _ = self._accept(chunk)
        rb = self._row_bytes
        if rb == 0 or data.nbytes == 0:
            return []
        rows, pos = [], 0
        if self._partial:
            pos = min(rb - len(self._partial), data.nbytes)
            self._partial += data[:pos]
            if len(self._partial) == rb:
                rows.append(self._rows(bytes(self._partial), 0, 1))
                self._partial = bytearray()
        n = (data.nbytes - pos) // rb
        if n:
            rows.append(self._rows(data, pos, n))
            pos += n * rb
        if pos < data.nbytes:
            self._partial += data[pos:]
        return rows

    def _rows(self, buf, pos: int, n: int) -> np.ndarray:
        count = n * self._row_bytes // self.dtype.itemsize
        return np.frombuffer(buf, self.dtype, count, pos).reshape((n, *self.shape[1:]))

    def finish(self) -> None:
        """Raise InvalidArgument if bytes are missing (the stream ended early)."""
        if not self.done:
            raise self._missing()


def check_finite(field: str, rows: np.ndarray, first_row: int = 0) -> None:
    """InvalidArgument naming the first NaN or inf of ``rows`` (float dtypes), with its
    index in the whole array (``rows`` starts at row ``first_row``)."""
    if rows.dtype.kind == "f" and not np.isfinite(rows).all():
        where = np.unravel_index(int(np.argmin(np.isfinite(rows))), rows.shape)
        index = [int(where[0]) + first_row, *map(int, where[1:])] if where else []
        raise InvalidArgument(field, f"must be finite, found {float(rows[where])} at index "
                                     f"{index}")


def iter_encoded_chunks(field_number: int, name: str, array, chunk_bytes: int, *,
                        offset: int = 0, full_shape: Sequence[int] | None = None
                        ) -> Iterator[bytes]:
    """:func:`iter_chunks`, but each piece already serialised as the field
    ``field_number`` of a response message (:func:`landsim.wire.encode_chunks`): the
    array's bytes are copied once, straight into the message."""
    return encode_chunks(field_number, name, _wire_array(array), chunk_bytes, offset=offset,
                         full_shape=full_shape)
