"""NdArray <-> NumPy conversion and chunked streams (landsim_server.arrays)."""

from __future__ import annotations

import numpy as np
import pytest
from landsim_server.arrays import (
    DTYPES,
    ChunkAssembler,
    RowReader,
    assemble,
    check_finite,
    from_ndarray,
    iter_chunks,
    iter_encoded_chunks,
    to_ndarray,
)
from landsim_server.errors import InvalidArgument, ResourceExhausted
from landsim_wire.chunks import ChunkView, chunk_deserializer, encode_chunk, serialize_or_pass
from landsim_wire.v1 import landscape_pb2, ndarray_pb2

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
    assert err.description == f"must be finite, found {float(bad)} at index [1, 2]"
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


# ---------------------------------------------------------------------- copy-free path
def _pieces(a: np.ndarray, chunk_bytes: int):
    return list(iter_chunks("points", a, chunk_bytes))


@pytest.mark.parametrize("chunk_bytes", [8, 24, 40, 56, 1000])  # rows of 24 bytes
def test_row_reader_hands_out_every_row_once_in_order(chunk_bytes):
    a = np.arange(30.0).reshape(10, 3)
    reader = RowReader("points", ndim=2)
    rows = [r for c in _pieces(a, chunk_bytes) for r in reader.add(c)]
    reader.finish()
    assert np.array_equal(np.concatenate(rows), a) and all(not r.flags.writeable for r in rows)
    if chunk_bytes % 24 == 0:  # whole rows: views of the pieces, no stitched copies
        assert len(rows) == len(_pieces(a, chunk_bytes))


def test_row_reader_validates_like_the_assembler():
    a = np.zeros((4, 2))
    pieces = _pieces(a, 16)
    seen = []
    reader = RowReader("points", ndim=2, on_header=seen.append)
    reader.add(pieces[0])
    assert seen == [(4, 2)]
    assert _error(InvalidArgument, reader.add, pieces[2]).field == "points.offset"
    assert _error(InvalidArgument, reader.finish).field == "points.data"
    assert _error(InvalidArgument, RowReader("x").add, pieces[0]).field == "x.name"
    assert _error(ResourceExhausted, RowReader("points", max_bytes=16).add, pieces[0])
    over = ndarray_pb2.NdArrayChunk(name="points", offset=0, dtype="float64", shape=[1, 1],
                                    data=b"\0" * 16)
    assert _error(InvalidArgument, RowReader("points").add, over).field == "points.data"


def test_check_finite_names_the_global_index():
    rows = np.zeros((3, 4))
    rows[2, 1] = np.inf
    err = _error(InvalidArgument, check_finite, "points", rows, 10)
    assert err.field == "points" and "[12, 1]" in err.description
    check_finite("points", np.zeros((2, 2)))


def _request(chunk) -> bytes:
    return landscape_pb2.StreamEvaluateRequest(points=chunk).SerializeToString()


def test_chunk_deserializer_reads_points_without_copy_and_falls_back_otherwise():
    parse = chunk_deserializer(landscape_pb2.StreamEvaluateRequest, "points")
    a = np.arange(12.0).reshape(4, 3)
    for chunk in _pieces(a, 40) + [ndarray_pb2.NdArrayChunk(name="p", offset=-5),
                                   ndarray_pb2.NdArrayChunk(name="é", shape=[2**40, -1])]:
        raw = _request(chunk)
        got = parse(raw)
        assert isinstance(got, ChunkView)
        assert (got.name, got.dtype, got.shape, got.offset, bytes(got.data)) == (
            chunk.name, chunk.dtype, tuple(chunk.shape), chunk.offset, chunk.data)
        assert got.data.obj is raw or len(chunk.data) == 0  # a view of the received bytes
    header = landscape_pb2.StreamEvaluateRequest(
        header=landscape_pb2.StreamEvaluateHeader(landscape_id="x"))
    assert parse(header.SerializeToString()) == header  # not a chunk: protobuf parses it
    twice = _request(_pieces(a, 40)[0]) * 2  # a repeated message field merges: protobuf
    assert parse(twice) == landscape_pb2.StreamEvaluateRequest.FromString(twice)
    unpacked = b"\x12\x04\x18\x02\x18\x03"  # shape as unpacked varints
    assert parse(unpacked).shape == (2, 3)
    with pytest.raises(Exception):  # noqa: B017 - malformed bytes: protobuf's own error
        parse(b"\x12\x05\x0a\x09ab")


def test_encoded_chunks_parse_as_the_messages_they_stand_for():
    a = np.arange(10, dtype=np.int64)
    field = landscape_pb2.StreamEvaluateResponse.DESCRIPTOR.fields_by_name["chunk"].number
    got = [landscape_pb2.StreamEvaluateResponse.FromString(b).chunk
           for b in iter_encoded_chunks(field, "argmin", a[4:], 16, offset=32,
                                        full_shape=(10,))]
    want = list(iter_chunks("argmin", a[4:], 16, offset=32, full_shape=(10,)))
    assert got == want
    first = landscape_pb2.StreamEvaluateResponse.FromString(
        encode_chunk(field, "x", a, 0, "int64", (10,)))
    assert first.chunk == ndarray_pb2.NdArrayChunk(name="x", dtype="int64", shape=[10],
                                                   data=a.tobytes())
    assert serialize_or_pass(b"abc") == b"abc"
    assert serialize_or_pass(first) == first.SerializeToString()
