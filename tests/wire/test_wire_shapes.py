"""Every shape is checked for overflow before anything is allocated, in the one codec the
client and the server share: a zero dim does not hide an absurd one, and the number of
dimensions is capped."""

from __future__ import annotations

import pytest
from landsim_wire.arrays import ChunkAssembler, RowReader, WireError, from_ndarray
from landsim_wire.dtypes import MAX_NDIM, check_header
from landsim_wire.v1.ndarray_pb2 import NdArray, NdArrayChunk

HUGE = [[0, 2**63 - 1], [2**63 - 1, 0], [0, 2**62, 4], [2**40, 2**40], [0] * 3 + [2**61]]


@pytest.mark.parametrize("shape", HUGE)
def test_shapes_too_big_for_any_array_are_refused(shape):
    with pytest.raises(WireError) as info:
        check_header("points", "float64", shape, max_bytes=1 << 30)
    assert info.value.field == "points.shape" and "too big" in str(info.value)


@pytest.mark.parametrize("shape", HUGE)
def test_decoders_refuse_them_before_allocating(shape):
    with pytest.raises(WireError):
        from_ndarray(NdArray(dtype="float64", shape=shape, data=b""), "points")
    chunk = NdArrayChunk(name="points", dtype="float64", shape=shape, offset=0, data=b"")
    for reader in (ChunkAssembler("points"), RowReader("points")):
        with pytest.raises(WireError) as info:
            reader.add(chunk)
        assert info.value.field == "points.shape"


def test_the_largest_extent_numpy_takes_passes():
    dtype, shape, nbytes = check_header("a", "uint8", [0, 2**63 - 1])
    assert shape == (0, 2**63 - 1) and nbytes == 0
    assert check_header("a", "float64", [0, 2**60 - 1])[2] == 0


def test_the_number_of_dimensions_is_capped_and_messages_stay_short():
    ok = from_ndarray(NdArray(dtype="float64", shape=[1] * MAX_NDIM, data=b"\0" * 8), "a")
    assert ok.ndim == MAX_NDIM
    with pytest.raises(WireError) as info:
        from_ndarray(NdArray(dtype="float64", shape=[1] * 100_000, data=b""), "a")
    assert info.value.field == "a.shape" and len(str(info.value)) < 200
    with pytest.raises(WireError) as info:
        check_header("a", "float64", [-1] * MAX_NDIM)
    assert len(str(info.value)) < 200
