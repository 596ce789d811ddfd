"""The StreamEvaluate pipeline's plain parts: the buffer pool and one block's evaluation.

The whole call over gRPC is tested in test_landscape_service.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from landsim_server.errors import InvalidArgument
from landsim_server.stream_evaluate import BLOCKS_IN_FLIGHT, BufferPool, evaluate_block

from landsim import geometry
from landsim.spec import random_landscape


def test_buffer_pool_reuses_big_enough_buffers_and_keeps_a_few():
    pool = BufferPool(keep=2)
    assert BufferPool().keep == 2 * BLOCKS_IN_FLIGHT + 2
    a = pool.take(100)
    assert a.dtype == np.uint8 and a.nbytes == 100
    pool.give(a)
    assert pool.take(80) is a  # big enough: reused
    pool.give(a)
    b = pool.take(200)  # too small ones are dropped
    assert b is not a and b.nbytes == 200
    for buffer in (np.empty(10, np.uint8), np.empty(20, np.uint8), np.empty(30, np.uint8)):
        pool.give(buffer)
    assert len(pool._free) == 2


@pytest.mark.parametrize("kind", ["axis", "rotated"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_block_of_pieces_equals_one_library_call(kind, dtype):
    spec = random_landscape(12, 3, 4, kind=kind, seed=1)
    X = np.random.default_rng(0).normal(size=(9, 12)).astype(dtype)
    pieces = [X[:2], X[2:7], X[7:]]
    buffer = np.empty(X.size * X.itemsize, np.uint8)
    start, arrays, back = evaluate_block(spec, True, True, pieces, 5, buffer)
    assert start == 5 and back is buffer
    got = {name: (a, tail) for name, a, tail in arrays}
    assert list(got) == ["losses", "argmin", "wedge_losses", "gradients"]
    ev = geometry.evaluate(spec, X, grad=True)
    np.testing.assert_array_equal(got["losses"][0], ev.loss)
    np.testing.assert_array_equal(got["argmin"][0], ev.argmin)
    np.testing.assert_array_equal(got["wedge_losses"][0], ev.wedge_losses)
    np.testing.assert_array_equal(got["gradients"][0], ev.grad)
    assert got["wedge_losses"][1] == (3,) and got["gradients"][1] == (12,)


def test_a_block_without_extras_returns_losses_and_argmin_only():
    spec = random_landscape(6, 2, 2, seed=0)
    _, arrays, buffer = evaluate_block(spec, False, False, [np.zeros((3, 6))], 0, None)
    assert [name for name, _, _ in arrays] == ["losses", "argmin"] and buffer is None


@pytest.mark.parametrize("kind", ["axis", "rotated"])
def test_a_nan_is_named_by_its_row_in_the_whole_batch(kind):
    spec = random_landscape(6, 2, 2, kind=kind, seed=0)
    pieces = [np.zeros((2, 6)), np.zeros((3, 6))]
    pieces[1][1, 4] = np.nan
    with pytest.raises(InvalidArgument) as exc:
        evaluate_block(spec, False, False, pieces, 10, None)
    assert exc.value.field.startswith("points")
    assert "13" in exc.value.message  # row 10 + 2 + 1
