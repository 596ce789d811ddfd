"""Copy-free NdArrayChunk messages on the wire, for the hot streaming path.

The protobuf runtime copies a ``bytes`` field at every step: gRPC's buffer into the
message when it is parsed, the message into a new ``bytes`` object at *every* access of
``chunk.data`` and again when a message is built or serialised. For a stream of
megabyte chunks those copies cost more than the kernels. This module reads and writes
the one message shape that carries the bulk, ``Outer { NdArrayChunk <field> = n; }``,
by hand. The server (point chunks in, result chunks out) and the client library (the
reverse) share it; it needs only the generated messages: no gRPC, no Numba.

- :func:`chunk_deserializer` parses a message whose only field is the chunk into a
  :class:`ChunkView` whose ``data`` is a memoryview of the received bytes (no copy);
  anything else (a header, an unusual encoding, malformed bytes) goes to the generated
  ``FromString``, so the result is always what protobuf would give (or its error);
- :func:`encode_chunk` builds a serialised ``Outer { chunk }`` from a buffer with one
  copy; :func:`serialize_or_pass` is the serializer that sends such bytes as they are
  and serialises protobuf messages as usual.

Field numbers come from the generated descriptors, never typed in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from .v1 import ndarray_pb2

__all__ = ["ChunkView", "chunk_deserializer", "encode_chunk", "encode_chunks",
           "serialize_or_pass"]

_FIELDS = {f.name: f.number for f in ndarray_pb2.NdArrayChunk.DESCRIPTOR.fields}
_NAME, _DTYPE, _SHAPE = _FIELDS["name"], _FIELDS["dtype"], _FIELDS["shape"]
_OFFSET, _DATA = _FIELDS["offset"], _FIELDS["data"]
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


class ChunkView:
    """An NdArrayChunk read without copying its data (duck-types the message's fields).

    Attributes
    ----------
    name, dtype : str
    shape : tuple of int
    offset : int
    data : memoryview
        A read-only view of the received message bytes.
    """

    __slots__ = ("name", "dtype", "shape", "offset", "data")

    def __init__(self, name: str, dtype: str, shape: Sequence[int], offset: int,
                 data: memoryview) -> None:
        self.name, self.dtype, self.shape = name, dtype, tuple(shape)
        self.offset, self.data = offset, data


class _Fallback(Exception):
    """The message is not in the simple form: let protobuf parse it."""


def _varint(buf: memoryview, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _Fallback
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _int64(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >= 1 << 63 else v


def _text(buf: memoryview, start: int, stop: int) -> str:
    try:
        return str(buf[start:stop], "utf-8")
    except UnicodeDecodeError:
        raise _Fallback from None


def _parse_chunk(buf: memoryview, pos: int, end: int) -> ChunkView:
    name = dtype = ""
    shape: list[int] = []
    offset = 0
    data = buf[0:0]
    while pos < end:
        tag, pos = _varint(buf, pos, end)
        field, wire = tag >> 3, tag & 7
        if wire == _VARINT:
            value, pos = _varint(buf, pos, end)
            if field == _SHAPE:
                shape.append(_int64(value))
            elif field == _OFFSET:
                offset = _int64(value)
            elif field in (_NAME, _DTYPE, _DATA):
                raise _Fallback
        elif wire == _LEN:
            n, pos = _varint(buf, pos, end)
            stop = pos + n
            if stop > end:
                raise _Fallback
            if field == _NAME:
                name = _text(buf, pos, stop)
            elif field == _DTYPE:
                dtype = _text(buf, pos, stop)
            elif field == _DATA:
                data = buf[pos:stop]
            elif field == _SHAPE:  # packed
                p = pos
                while p < stop:
                    value, p = _varint(buf, p, stop)
                    shape.append(_int64(value))
            elif field == _OFFSET:
                raise _Fallback
            pos = stop
        elif wire in (_I64, _I32) and field not in _FIELDS.values():
            pos += 8 if wire == _I64 else 4
        else:
            raise _Fallback
    if pos != end:
        raise _Fallback
    return ChunkView(name, dtype, shape, offset, data)


def chunk_deserializer(message_cls, field: str) -> Callable[[bytes], object]:
    """A deserializer for ``message_cls`` that returns a :class:`ChunkView` when
    the message holds only its NdArrayChunk field ``field`` (once), else
    ``message_cls.FromString(data)``."""
    tag = message_cls.DESCRIPTOR.fields_by_name[field].number << 3 | _LEN
    parse = message_cls.FromString

    def deserialize(raw: bytes):
        buf = memoryview(raw)
        try:
            t, pos = _varint(buf, 0, len(buf))
            if t != tag:
                raise _Fallback
            n, pos = _varint(buf, pos, len(buf))
            if pos + n != len(buf):
                raise _Fallback
            return _parse_chunk(buf, pos, pos + n)
        except _Fallback:
            return parse(raw)

    return deserialize


def _encode_varint(v: int) -> bytes:
    out = bytearray()
    while v >= 0x80:
        out.append(v & 0x7F | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def encode_chunk(field_number: int, name: str, data, offset: int, dtype: str = "",
                 shape: Sequence[int] = ()) -> bytes:
    """Serialised ``Outer { NdArrayChunk <field_number> = {name, dtype, shape, offset,
    data} }``, equal (as parsed) to building and serialising the messages; ``data`` is any
    buffer (bytes, memoryview, C-contiguous array), copied once."""
    head = ndarray_pb2.NdArrayChunk(name=name, dtype=dtype, shape=shape,
                                    offset=offset).SerializeToString()
    n = memoryview(data).nbytes
    data_head = _encode_varint(_DATA << 3 | _LEN) + _encode_varint(n)
    inner = len(head) + len(data_head) + n
    return b"".join((_encode_varint(field_number << 3 | _LEN), _encode_varint(inner), head,
                     data_head, memoryview(data).cast("B")))


def encode_chunks(field_number: int, name: str, array, chunk_bytes: int, *, offset: int = 0,
                  full_shape: Sequence[int] | None = None) -> Iterator[bytes]:
    """An array cut into pieces of at most ``chunk_bytes`` (whole elements), each
    serialised by :func:`encode_chunk` (its bytes copied once, straight into the message).

    Parameters
    ----------
    field_number : int
        The NdArrayChunk field of the outer message.
    name : str
    array : numpy.ndarray
        C-contiguous, little-endian, of a wire dtype (its ``dtype.name`` is sent).
    chunk_bytes : int
    offset : int
        Byte offset of ``array`` within the whole array (a block of rows sent on its own).
    full_shape : sequence of int, optional
        Shape of the whole array (default ``array.shape``); the piece at whole-array
        offset 0 carries it and the dtype.
    """
    if chunk_bytes < 1:
        raise ValueError(f"chunk_bytes must be >= 1, got {chunk_bytes}")
    step = max(array.dtype.itemsize, chunk_bytes - chunk_bytes % array.dtype.itemsize)
    shape = array.shape if full_shape is None else tuple(full_shape)
    raw = memoryview(array.reshape(-1).view("u1"))
    pos = 0
    while True:
        stop = min(raw.nbytes, pos + step)
        first = offset + pos == 0
        yield encode_chunk(field_number, name, raw[pos:stop], offset + pos,
                           array.dtype.name if first else "", shape if first else ())
        pos = stop
        if pos >= raw.nbytes:
            return


def serialize_or_pass(message) -> bytes:
    """Serializer: bytes (from :func:`encode_chunk`) as they are, else
    ``message.SerializeToString()``."""
    return message if isinstance(message, bytes) else message.SerializeToString()
