"""NdArray <-> NumPy conversion and chunked streams (landsim_server.arrays)."""

from __future__ import annotations

import numpy as np
import pytest
from landsim_server.arrays import (
    DTYPES,
    ChunkAssembler,
    assemble,
    from_ndarray,
    iter_chunks,
    to_ndarray,
)
from landsim_server.errors import InvalidArgument, ResourceExhausted

from landsim.v1 import ndarray_pb2

ALL = tuple(DTYPES)


def _sample(dtype: str, shape=(3, 5)) -> np.ndarray:
    rng = np.random.default_rng(0)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith("float"):
        return rng.normal(size=shape).astype(dtype)
    return rng.integers(0, 200, size=shape).astype(dtype)


@pytest.mark.parametrize("dtype", ALL)
@pytest.mark.parametrize("shape", [(3, 5), (7,), (), (0, 4), (2, 3, 4)])
def test_round_trip_every_dtype_and_shape(dtype, shape):
    a = _sample(dtype, shape)
    msg = to_ndarray(a)
    assert msg.dtype == dtype and tuple(msg.shape) == shape
    assert len(msg.data) == a.size * a.itemsize
    back = from_ndarray(msg, "x", ALL)
    assert back.dtype == a.dtype and back.shape == a.shape
    assert np.array_equal(back, a)
    assert not back.flags.writeable


def test_to_ndarray_is_little_endian_c_order():
    a = np.arange(6, dtype=">f8").reshape(2, 3).T  # big-endian, Fortran-ordered view
    msg = to_ndarray(a)
    assert msg.data == np.ascontiguousarray(a, dtype="<f8").tobytes()
    assert np.array_equal(from_ndarray(msg, "x"), a)


def test_to_ndarray_rejects_unknown_dtype():
    with pytest.raises(ValueError, match="complex128"):
        to_ndarray(np.zeros(2, complex))


def _error(exc_type, fn, *args, **kwargs):
    with pytest.raises(exc_type) as info:
        fn(*args, **kwargs)
    return info.value


def test_dtype_outside_allow_list_names_field_and_options():
    err = _error(InvalidArgument, from_ndarray, to_ndarray(np.zeros(3, np.int64)), "points")
    assert err.field == "points.dtype"
    assert "float64" in err.description and "'int64'" in err.description


def test_unknown_dtype_name_rejected_even_if_listed():
    msg = ndarray_pb2.NdArray(dtype="float16", shape=[2], data=b"\0" * 4)
    err = _error(InvalidArgument, from_ndarray, msg, "x", ("float16",))
    assert err.field == "x.dtype"


def test_negative_dim_rejected():
    msg = ndarray_pb2.NdArray(dtype="float64", shape=[-1, 2], data=b"")
    err = _error(InvalidArgument, from_ndarray, msg, "x")
    assert err.field == "x.shape" and "-1" in err.description


def test_byte_count_must_match_shape():
    msg = to_ndarray(np.zeros((2, 3)))
    msg.data = msg.data[:-1]
    err = _error(InvalidArgument, from_ndarray, msg, "x")
    assert err.field == "x.data" and "48" in err.description and "47" in err.description


def test_ndim_checked():
    err = _error(InvalidArgument, from_ndarray, to_ndarray(np.zeros(3)), "x", ndim=2)
    assert err.field == "x.shape"


def test_size_cap_is_resource_exhausted_before_decoding():
    # a header claiming 10^12 elements with no data: rejected on the header alone
    msg = ndarray_pb2.NdArray(dtype="float64", shape=[10**6, 10**6], data=b"")
    err = _error(ResourceExhausted, from_ndarray, msg, "points", max_bytes=1 << 20)
    assert err.field == "points" and err.limit == 1 << 20 and err.got == 8 * 10**12


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_finite_rejects_nan_and_inf(bad):
    a = np.zeros((2, 3))
    a[1, 2] = bad
    err = _error(InvalidArgument, from_ndarray, to_ndarray(a), "points", finite=True)
    assert err.field == "points" and "[1, 2]" in err.description
    assert np.isnan(from_ndarray(to_ndarray(a), "x")[1, 2]) == np.isnan(bad)  # allowed if asked


def test_bool_bytes_must_be_zero_or_one():
    msg = ndarray_pb2.NdArray(dtype="bool", shape=[2], data=b"\x00\x02")
    err = _error(InvalidArgument, from_ndarray, msg, "mask", ("bool",))
    assert err.field == "mask.data"


@pytest.mark.parametrize("dtype", ALL)
@pytest.mark.parametrize("chunk_bytes", [1, 7, 64, 1 << 20])
def test_chunk_round_trip(dtype, chunk_bytes):
    a = _sample(dtype, (9, 11))
    chunks = list(iter_chunks("x", a, chunk_bytes))
    assert chunks[0].dtype == dtype and tuple(chunks[0].shape) == a.shape
    assert all(not c.dtype and not c.shape for c in chunks[1:])
    assert all(len(c.data) % a.itemsize == 0 for c in chunks)  # whole elements
    assert all(len(c.data) <= max(chunk_bytes, a.itemsize) for c in chunks)
    assert sum(len(c.data) for c in chunks) == a.nbytes
    out = assemble(chunks)
    assert list(out) == ["x"] and out["x"].dtype == a.dtype
    assert np.array_equal(out["x"], a)


def test_empty_array_is_one_chunk():
    chunks = list(iter_chunks("x", np.zeros((0, 3))))
    assert len(chunks) == 1 and chunks[0].data == b""
    assert assemble(chunks)["x"].shape == (0, 3)


def test_parts_of_a_larger_array_reassemble():
    a = np.arange(40.0).reshape(8, 5)
    chunks = [c for r0 in range(0, 8, 3) for c in
              iter_chunks("x", a[r0:r0 + 3], 16, offset=r0 * 5 * 8, full_shape=a.shape)]
    assert tuple(chunks[0].shape) == (8, 5)
    assert np.array_equal(assemble(chunks)["x"], a)


def test_interleaved_arrays():
    a, b = np.arange(10.0), np.arange(6, dtype=np.int64)
    ca, cb = list(iter_chunks("a", a, 16)), list(iter_chunks("b", b, 16))
    mixed = [c for pair in zip(ca, cb) for c in pair] + ca[len(cb):]
    out = assemble(mixed)
    assert np.array_equal(out["a"], a) and np.array_equal(out["b"], b)


def test_rows_usable_as_they_arrive():
    a = np.arange(30.0).reshape(6, 5)
    asm = ChunkAssembler("x", ndim=2)
    seen = []
    for c in iter_chunks("x", a, 24):  # 3 floats per chunk: rows complete every 5/3 chunks
        asm.add(c)
        seen.append(asm.rows_ready)
        assert np.array_equal(asm.rows(0, asm.rows_ready), a[:asm.rows_ready])
    assert seen == sorted(seen) and seen[-1] == 6 and asm.done
    with pytest.raises(ValueError, match="not all received"):
        ChunkAssembler("x").rows(0, 1)


def _chunks(a, chunk_bytes=16):
    return list(iter_chunks("x", a, chunk_bytes))


def test_assembler_rejects_wrong_name():
    err = _error(InvalidArgument, ChunkAssembler("points").add, _chunks(np.zeros(2))[0])
    assert err.field == "points.name"


def test_assembler_rejects_out_of_order_and_gaps():
    chunks = _chunks(np.zeros(8))
    asm = ChunkAssembler("x")
    asm.add(chunks[0])
    err = _error(InvalidArgument, asm.add, chunks[2])
    assert err.field == "x.offset" and "expected offset 16" in err.description
    err = _error(InvalidArgument, ChunkAssembler("x").add, chunks[1])
    assert err.field == "x.offset"


def test_assembler_rejects_overrun_and_changed_header():
    chunks = _chunks(np.zeros(4))
    asm = ChunkAssembler("x")
    for c in chunks:
        asm.add(c)
    extra = ndarray_pb2.NdArrayChunk(name="x", offset=32, data=b"\0" * 8)
    assert _error(InvalidArgument, asm.add, extra).field == "x.data"
    asm = ChunkAssembler("x")
    asm.add(chunks[0])
    changed = ndarray_pb2.NdArrayChunk(name="x", dtype="float32", shape=[4], offset=16,
                                       data=chunks[1].data)
    assert _error(InvalidArgument, asm.add, changed).field == "x.shape"


def test_assembler_checks_header_before_allocating():
    huge = ndarray_pb2.NdArrayChunk(name="x", dtype="float64", shape=[1 << 40], offset=0)
    err = _error(ResourceExhausted, ChunkAssembler("x", max_bytes=1 << 20).add, huge)
    assert err.limit == 1 << 20
    bad = ndarray_pb2.NdArrayChunk(name="x", dtype="int64", shape=[2], offset=0)
    assert _error(InvalidArgument, ChunkAssembler("x").add, bad).field == "x.dtype"


def test_assembler_incomplete_and_nonfinite():
    chunks = _chunks(np.array([1.0, np.nan, 3.0, 4.0]))
    asm = ChunkAssembler("x", finite=True)
    asm.add(chunks[0])
    err = _error(InvalidArgument, asm.array)
    assert err.field == "x.data" and "16 of 32" in err.description
    asm.add(chunks[1])
    assert _error(InvalidArgument, asm.array).field == "x"
