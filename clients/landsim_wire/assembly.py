"""Reading chunked arrays: NdArrayChunk pieces -> one array, or -> rows as they arrive.

An array too large for one message travels as ``NdArrayChunk`` pieces: the first (byte
offset 0) carries the dtype and the full shape, every piece its byte offset, in order.
:class:`ChunkAssembler` rebuilds the array (its complete rows usable while the rest
arrives), :func:`assemble` a whole stream of several interleaved arrays, and
:class:`RowReader` hands out complete rows without assembling anything. All make the
same checks and raise :class:`~landsim_wire.errors.WireError` (or
:class:`~landsim_wire.errors.WireLimitError` for a size over a cap), naming the field.
Pieces may be generated messages or :class:`~landsim_wire.chunks.ChunkView`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from .dtypes import DTYPES, check_header, check_values
from .errors import WireError

__all__ = ["ChunkAssembler", "RowReader", "assemble"]


class ChunkSequence:
    """The checks every reader of one chunked array makes: the chunk's name, the first
    chunk's dtype and shape (allow-list, dims >= 0, byte cap, ``ndim``), later chunks
    repeating them or leaving them empty, pieces in order and inside the array.
    Subclasses take the validated header in :meth:`_header` and the bytes from
    :meth:`_accept`.

    Parameters
    ----------
    name : str
        Expected ``NdArrayChunk.name``; also the field name in errors.
    allowed_dtypes : sequence of str, optional
        dtype names accepted (default: every wire dtype).
    max_bytes : int, optional
        Cap on the whole array's bytes (WireLimitError above it); default none.
    ndim : int, optional
        Required number of dimensions.
    """

    def __init__(self, name: str, allowed_dtypes: Sequence[str] | None = None,
                 max_bytes: int | None = None, ndim: int | None = None) -> None:
        self.name = name
        self.allowed_dtypes = tuple(DTYPES if allowed_dtypes is None else allowed_dtypes)
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
            raise WireError(f"expected chunks of {self.name!r}, got {chunk.name!r}",
                            f"{self.name}.name")
        if not self.started:
            if chunk.offset != 0:
                raise WireError(f"the first chunk must have offset 0, got {chunk.offset}",
                                f"{self.name}.offset")
            self._header(*check_header(self.name, chunk.dtype, chunk.shape,
                                       self.allowed_dtypes, self.max_bytes, self.ndim))
        elif chunk.dtype or len(chunk.shape):
            if chunk.dtype != self.dtype.name or tuple(chunk.shape) != self.shape:
                raise WireError("later chunks must repeat the first chunk's dtype and shape "
                                f"or leave them empty, got {chunk.dtype!r} "
                                f"{list(chunk.shape)}", f"{self.name}.shape")
        if chunk.offset != self.received:
            raise WireError(f"expected offset {self.received} (chunks in order), got "
                            f"{chunk.offset}", f"{self.name}.offset")
        data = memoryview(chunk.data)  # one access: a protobuf bytes field copies on each
        start, end = self.received, self.received + data.nbytes
        if end > self.nbytes:
            raise WireError(f"chunk ends at byte {end}, beyond the array's {self.nbytes} "
                            "bytes", f"{self.name}.data")
        self.received = end
        return data, start

    def _missing(self) -> WireError:
        return WireError(f"stream ended after {self.received} of {self.nbytes} bytes",
                         f"{self.name}.data")


class ChunkAssembler(ChunkSequence):
    """Rebuild one array from its NdArrayChunk pieces, validating as they come.

    The first piece's dtype and shape are checked (allow-list, dims >= 0, byte cap)
    before the buffer is allocated; every piece must continue at the byte where the
    previous one ended and stay inside the array. Rows along the first axis can be used
    as soon as they are complete (:meth:`rows`), so a consumer can compute while the
    rest is still arriving.

    Parameters
    ----------
    name, allowed_dtypes, max_bytes, ndim
        As for :class:`ChunkSequence` (defaults: any wire dtype, no cap).
    finite : bool
        Reject NaN and inf (checked on the rows handed out by :meth:`rows` / :meth:`array`).
    readonly : bool
        Hand out read-only views of the buffer (default: writable).
    """

    def __init__(self, name: str, allowed_dtypes: Sequence[str] | None = None,
                 max_bytes: int | None = None, *, ndim: int | None = None,
                 finite: bool = False, readonly: bool = False) -> None:
        super().__init__(name, allowed_dtypes, max_bytes, ndim)
        self.finite = finite
        self.readonly = readonly
        self._buffer: np.ndarray | None = None

    def _header(self, dtype: np.dtype, shape: tuple[int, ...], nbytes: int) -> None:
        super()._header(dtype, shape, nbytes)
        self._buffer = np.empty(nbytes, dtype=np.uint8)

    def add(self, chunk) -> None:
        """Append one piece (an NdArrayChunk or a ChunkView); raises WireError."""
        data, start = self._accept(chunk)
        self._buffer[start:self.received] = np.frombuffer(data, dtype=np.uint8)

    def _typed(self) -> np.ndarray:
        if not self.started:
            raise WireError("no chunk of this array has arrived", self.name)
        out = self._buffer.view(self.dtype).reshape(self.shape)
        if self.readonly:
            out.flags.writeable = False
        return out

    @property
    def rows_ready(self) -> int:
        """Rows along the first axis received completely (0 before the first piece)."""
        if not self.started or not self.shape:
            return 0
        row_bytes = self.nbytes // self.shape[0] if self.shape[0] else 0
        return self.shape[0] if row_bytes == 0 else self.received // row_bytes

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` (all complete; ValueError otherwise) as a view, shape
        (stop-start, ...)."""
        if not 0 <= start <= stop <= self.rows_ready:
            raise ValueError(f"rows {start}:{stop} are not all received "
                             f"({self.rows_ready} rows ready)")
        out = self._typed()[start:stop]
        check_values(self.name, out, self.finite)
        return out

    def array(self) -> np.ndarray:
        """The whole array (a view of the buffer); WireError if bytes are missing."""
        if not self.done:
            raise self._missing()
        out = self._typed()
        check_values(self.name, out, self.finite)
        return out


def assemble(chunks: Iterable, allowed_dtypes: Sequence[str] | None = None,
             max_bytes: int | None = None, *, readonly: bool = False
             ) -> dict[str, np.ndarray]:
    """Collect pieces of one or more arrays (interleaved, each in order) into arrays.

    Parameters
    ----------
    chunks : iterable of NdArrayChunk or ChunkView
    allowed_dtypes, max_bytes, readonly
        As for :class:`ChunkAssembler`, for every array.

    Returns
    -------
    dict of str to ndarray
        One array per chunk name, in order of first appearance.
    """
    parts: dict[str, ChunkAssembler] = {}
    for chunk in chunks:
        if chunk.name not in parts:
            parts[chunk.name] = ChunkAssembler(chunk.name, allowed_dtypes, max_bytes,
                                               readonly=readonly)
        parts[chunk.name].add(chunk)
    return {name: part.array() for name, part in parts.items()}


class RowReader(ChunkSequence):
    """Validate the NdArrayChunk pieces of one array and hand out its complete rows as
    they arrive, without assembling the array.

    The same checks as :class:`ChunkAssembler`, but no buffer: :meth:`add` returns the
    rows completed by a piece as read-only views of the piece's own bytes. A row split
    between two pieces is copied (one row per piece at most), so pieces that hold whole
    rows cost no copy at all. Finiteness is *not* checked here (see
    :func:`~landsim_wire.dtypes.check_finite`), so that it can run elsewhere.

    Parameters
    ----------
    name, allowed_dtypes, max_bytes, ndim
        As for :class:`ChunkSequence`; the array needs at least one dimension (rows run
        along axis 0).
    on_header : callable, optional
        Called with the validated shape when the first piece arrives, before any row is
        cut; may raise to reject it.
    """

    def __init__(self, name: str, allowed_dtypes: Sequence[str] | None = None,
                 max_bytes: int | None = None, *, ndim: int | None = None,
                 on_header: Callable[[tuple[int, ...]], None] | None = None) -> None:
        super().__init__(name, allowed_dtypes, max_bytes, ndim)
        self.on_header = on_header
        self._row_bytes = 0
        self._partial = bytearray()

    def _header(self, dtype: np.dtype, shape: tuple[int, ...], nbytes: int) -> None:
        if not shape:
            raise WireError("must have at least one dimension, got []", f"{self.name}.shape")
        if self.on_header is not None:
            self.on_header(shape)
        super()._header(dtype, shape, nbytes)
        self._row_bytes = nbytes // shape[0] if shape[0] else 0

    def add(self, chunk) -> list[np.ndarray]:
        """Take one piece; returns the rows it completes, as read-only arrays of shape
        (n, ...) in order."""
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
        """Raise WireError if bytes are missing (the stream ended early)."""
        if not self.done:
            raise self._missing()
