"""landsim_wire.arrays: one dtype table and NdArray / chunk codec for both sides."""

from __future__ import annotations

import numpy as np
import pytest
from landsim_wire.arrays import (
    DTYPES,
    ChunkAssembler,
    RowReader,
    WireError,
    WireLimitError,
    assemble,
    from_ndarray,
    iter_chunks,
    iter_encoded_chunks,
    to_ndarray,
)
from landsim_wire.v1 import landscape_pb2, ndarray_pb2

SHAPES = [(3, 5), (7,), (), (0, 4), (2, 3, 4)]


def _sample(dtype: str, shape) -> np.ndarray:
    rng = np.random.default_rng(0)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith("float"):
        return rng.normal(size=shape).astype(dtype)
    return rng.integers(0, 200, size=shape).astype(dtype)


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("shape", SHAPES)
def test_every_dtype_round_trips_as_one_message(dtype, shape):
    a = _sample(dtype, shape)
    msg = to_ndarray(a)
    assert msg.dtype == dtype and tuple(msg.shape) == shape
    back = from_ndarray(msg, "x")
    assert back.dtype == DTYPES[dtype] and back.shape == shape and np.array_equal(back, a)
    assert back.flags.writeable  # default: a copy the caller owns
    view = from_ndarray(msg, "x", copy=False)
    assert not view.flags.writeable and np.array_equal(view, a)


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("chunk_bytes", [1, 5, 64, 1 << 20])
def test_every_dtype_round_trips_in_chunks(dtype, chunk_bytes):
    a = _sample(dtype, (9, 7))
    chunks = list(iter_chunks("x", a, chunk_bytes))
    assert chunks[0].dtype == dtype and all(not c.dtype for c in chunks[1:])
    out = assemble(chunks)["x"]
    assert out.dtype == DTYPES[dtype] and np.array_equal(out, a) and out.flags.writeable
    field = landscape_pb2.StreamEvaluateResponse.DESCRIPTOR.fields_by_name["chunk"].number
    encoded = [landscape_pb2.StreamEvaluateResponse.FromString(b).chunk
               for b in iter_encoded_chunks(field, "x", a, chunk_bytes)]
    assert encoded == chunks
    assert np.array_equal(assemble(encoded, readonly=True)["x"], a)


def test_send_side_conversions():
    assert to_ndarray(np.arange(3, dtype=np.int16)).dtype == "int64"  # widened
    assert to_ndarray(np.array(2.5)).shape == []  # 0-d stays 0-d
    big = np.arange(4, dtype=">f8")
    assert from_ndarray(to_ndarray(big)).tolist() == big.tolist()
    with pytest.raises(ValueError, match="complex128"):
        to_ndarray(np.zeros(2, complex))
    with pytest.raises(ValueError, match="float32"):
        to_ndarray(np.zeros(2, np.float32), dtypes=("float64",))


def _err(fn, *args, **kwargs) -> WireError:
    with pytest.raises(WireError) as info:
        fn(*args, **kwargs)
    return info.value


def test_decode_checks_name_the_field():
    assert _err(from_ndarray, to_ndarray(np.zeros(2)), "p", ("int64",)).field == "p.dtype"
    bad = ndarray_pb2.NdArray(dtype="float64", shape=[-1], data=b"")
    assert _err(from_ndarray, bad, "p").field == "p.shape"
    short = to_ndarray(np.zeros(3))
    short.data = short.data[:-1]
    assert _err(from_ndarray, short, "p").field == "p.data"
    assert _err(from_ndarray, to_ndarray(np.zeros(3)), "p", ndim=2).field == "p.shape"
    nan = to_ndarray(np.array([0.0, np.nan]))
    err = _err(from_ndarray, nan, "p", finite=True)
    assert err.field == "p" and "index [1]" in err.description and str(err).startswith("p: ")
    flag = ndarray_pb2.NdArray(dtype="bool", shape=[1], data=b"\x07")
    assert _err(from_ndarray, flag, "m").field == "m.data"


def test_byte_cap_is_a_limit_error_before_decoding():
    huge = ndarray_pb2.NdArray(dtype="float64", shape=[10**6, 10**6])
    err = _err(from_ndarray, huge, "p", max_bytes=1024)
    assert isinstance(err, WireLimitError) and isinstance(err, ValueError)
    assert (err.field, err.limit, err.got) == ("p", 1024, 8 * 10**12)


def _pieces(n=8, chunk_bytes=16):
    return list(iter_chunks("x", np.arange(float(n)), chunk_bytes))


def test_assembly_out_of_order_is_an_error():
    pieces = _pieces()
    asm = ChunkAssembler("x")
    asm.add(pieces[0])
    err = _err(asm.add, pieces[2])
    assert err.field == "x.offset" and "expected offset 16" in err.description
    assert _err(ChunkAssembler("x").add, pieces[1]).field == "x.offset"  # no header first


def test_assembly_overlap_and_overrun_are_errors():
    pieces = _pieces()
    asm = ChunkAssembler("x")
    asm.add(pieces[0])
    asm.add(pieces[1])
    overlap = ndarray_pb2.NdArrayChunk(name="x", offset=24, data=b"\0" * 16)
    assert _err(asm.add, overlap).field == "x.offset"
    for p in pieces[2:]:
        asm.add(p)
    beyond = ndarray_pb2.NdArrayChunk(name="x", offset=64, data=b"\0" * 8)
    assert _err(asm.add, beyond).field == "x.data"
    assert np.array_equal(asm.array(), np.arange(8.0))


def test_assembly_other_errors():
    pieces = _pieces()
    assert _err(ChunkAssembler("y").add, pieces[0]).field == "y.name"
    asm = ChunkAssembler("x")
    asm.add(pieces[0])
    assert _err(asm.array).field == "x.data"  # incomplete
    changed = ndarray_pb2.NdArrayChunk(name="x", dtype="float32", shape=[8], offset=16,
                                       data=pieces[1].data)
    assert _err(asm.add, changed).field == "x.shape"
    interleaved = [c for pair in zip(_pieces(), iter_chunks("z", np.arange(3), 8))
                   for c in pair]
    with pytest.raises(WireError):  # z's first piece is fine, x's pieces run out early
        assemble(interleaved)


def test_row_reader_hands_out_rows_and_checks():
    a = np.arange(12.0).reshape(4, 3)
    reader = RowReader("x", ndim=2)
    rows = [r for c in iter_chunks("x", a, 40) for r in reader.add(c)]
    reader.finish()
    assert np.array_equal(np.concatenate(rows), a)
    empty = RowReader("x")
    assert _err(empty.add, next(iter_chunks("x", np.zeros(())))).field == "x.shape"
