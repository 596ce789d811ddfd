"""NumPy arrays <-> ``landsim.v1.NdArray`` / ``NdArrayChunk`` on the client side.

The same wire format as the server (dtype name, shape, raw little-endian C-order bytes;
big arrays as a sequence of chunks, the first carrying dtype and full shape), with the
same checks on what comes back (known dtype, dims >= 0, ``prod(shape) * itemsize`` bytes,
chunks in order). Pure NumPy and the generated messages: no Numba, no server code.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from landsim.v1 import ndarray_pb2
from landsim.wire import encode_chunks

__all__ = ["DTYPES", "to_ndarray", "from_ndarray", "iter_chunks", "iter_encoded_chunks",
           "ChunkAssembler", "assemble", "WireError"]

#: Every dtype the wire knows, by its NdArray name (all little-endian).
DTYPES: dict[str, np.dtype] = {
    "float64": np.dtype("<f8"), "float32": np.dtype("<f4"), "int64": np.dtype("<i8"),
    "int32": np.dtype("<i4"), "uint8": np.dtype("u1"), "bool": np.dtype("?"),
}


class WireError(ValueError):
    """An array from the server is malformed (a protocol error, never expected)."""


def _wire_array(array, dtypes: Sequence[str] | None = None) -> np.ndarray:
    a = np.asarray(array)
    if a.dtype.kind == "b":
        name = "bool"
    elif a.dtype.kind in "iu" and a.dtype.name not in DTYPES:
        name = "int64"  # e.g. int16 axes or uint64 indices
    else:
        name = a.dtype.name
    if name not in DTYPES or (dtypes is not None and name not in dtypes):
        allowed = sorted(DTYPES) if dtypes is None else list(dtypes)
        raise ValueError(f"cannot send an array of dtype {a.dtype}; allowed here: {allowed}")
    return np.ascontiguousarray(a, dtype=DTYPES[name])


def to_ndarray(array, dtypes: Sequence[str] | None = None) -> ndarray_pb2.NdArray:
    """Encode an array as an NdArray (little-endian C order; copies only when needed).

    Parameters
    ----------
    array : array_like
    dtypes : sequence of str, optional
        Allowed dtype names (ValueError otherwise); default: every wire dtype.
    """
    a = _wire_array(array, dtypes)
    return ndarray_pb2.NdArray(dtype=a.dtype.name, shape=a.shape, data=a.tobytes())


def _header(name: str, dtype: str, shape: Sequence[int]) -> tuple[np.dtype, tuple, int]:
    if dtype not in DTYPES:
        raise WireError(f"{name}: unknown dtype {dtype!r}")
    shape = tuple(int(n) for n in shape)
    if any(n < 0 for n in shape):
        raise WireError(f"{name}: negative dim in shape {list(shape)}")
    dt = DTYPES[dtype]
    return dt, shape, math.prod(shape) * dt.itemsize


def from_ndarray(msg: ndarray_pb2.NdArray, name: str = "array") -> np.ndarray:
    """Decode an NdArray into a (writable) NumPy array after checking its byte count."""
    dt, shape, nbytes = _header(name, msg.dtype, msg.shape)
    if len(msg.data) != nbytes:
        raise WireError(f"{name}: shape {list(shape)} of {msg.dtype} needs {nbytes} bytes, "
                        f"got {len(msg.data)}")
    return np.frombuffer(msg.data, dtype=dt).reshape(shape).copy()


def iter_chunks(name: str, array, chunk_bytes: int = 1 << 20,
                dtypes: Sequence[str] | None = None) -> Iterator[ndarray_pb2.NdArrayChunk]:
    """Cut an array into NdArrayChunk pieces of at most ``chunk_bytes`` (whole elements).

    The first piece carries dtype and shape; an empty array gives one piece without data.
    """
    if chunk_bytes < 1:
        raise ValueError(f"chunk_bytes must be >= 1, got {chunk_bytes}")
    a = _wire_array(array, dtypes)
    step = max(a.dtype.itemsize, chunk_bytes - chunk_bytes % a.dtype.itemsize)
    raw = memoryview(a.reshape(-1).view(np.uint8))
    pos = 0
    while True:
        stop = min(raw.nbytes, pos + step)
        chunk = ndarray_pb2.NdArrayChunk(name=name, offset=pos, data=bytes(raw[pos:stop]))
        if pos == 0:
            chunk.dtype = a.dtype.name
            chunk.shape.extend(a.shape)
        yield chunk
        pos = stop
        if pos >= raw.nbytes:
            return


def iter_encoded_chunks(field_number: int, name: str, array, chunk_bytes: int = 1 << 20,
                        dtypes: Sequence[str] | None = None) -> Iterator[bytes]:
    """:func:`iter_chunks` as serialised ``Outer { NdArrayChunk <field_number> }`` messages
    (:func:`landsim.wire.encode_chunks`, for a stream whose request serializer passes
    bytes through): one copy of the array's memory per piece instead of two."""
    return encode_chunks(field_number, name, _wire_array(array, dtypes), chunk_bytes)


class ChunkAssembler:
    """Rebuild one array from its pieces (checked: first piece at 0, in order, in bounds)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dtype: np.dtype | None = None
        self.shape: tuple[int, ...] | None = None
        self.nbytes = 0
        self.received = 0
        self._buffer: bytearray | None = None

    @property
    def done(self) -> bool:
        """Whether every byte has arrived."""
        return self._buffer is not None and self.received == self.nbytes

    def add(self, chunk: ndarray_pb2.NdArrayChunk) -> None:
        """Append one piece (an NdArrayChunk or a :class:`landsim.wire.ChunkView`)."""
        if self._buffer is None:
            if chunk.offset != 0:
                raise WireError(f"{self.name}: first chunk at offset {chunk.offset}, not 0")
            self.dtype, self.shape, self.nbytes = _header(self.name, chunk.dtype, chunk.shape)
            self._buffer = bytearray(self.nbytes)
        if chunk.offset != self.received:
            raise WireError(f"{self.name}: chunk at offset {chunk.offset}, expected "
                            f"{self.received}")
        end = self.received + len(chunk.data)
        if end > self.nbytes:
            raise WireError(f"{self.name}: chunk ends at byte {end}, beyond {self.nbytes}")
        self._buffer[self.received:end] = chunk.data
        self.received = end

    def array(self) -> np.ndarray:
        """The whole array (writable); WireError if bytes are missing."""
        if not self.done:
            raise WireError(f"{self.name}: stream ended after {self.received} of "
                            f"{self.nbytes} bytes")
        return np.frombuffer(self._buffer, dtype=self.dtype).reshape(self.shape)


def assemble(chunks: Iterable[ndarray_pb2.NdArrayChunk]) -> dict[str, np.ndarray]:
    """Collect the pieces of one or more arrays (each in order) into named arrays, in
    order of first appearance."""
    parts: dict[str, ChunkAssembler] = {}
    for chunk in chunks:
        if chunk.name not in parts:
            parts[chunk.name] = ChunkAssembler(chunk.name)
        parts[chunk.name].add(chunk)
    return {name: part.array() for name, part in parts.items()}
