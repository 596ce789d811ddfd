"""The rotated-frame products against NumPy, and their bit-level promises."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from landsim import geometry
from landsim.kernels import rotated, rotated_blocks
from landsim.spec import random_landscape

# D crosses the projection's coordinate blocks and leaves a partial one; S leaves rows
# over after the blocks of sixteen and four (projection) and of eight (back projection)
D_SHAPES = [5, rotated.PROJECT_BLOCK + 37]


@pytest.mark.parametrize("dim", D_SHAPES)
@pytest.mark.parametrize("batch", [1, 3, 4, 9])
@pytest.mark.parametrize("n_rows", [1, 6, 13, 22, 35])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_project_matches_numpy(dim, batch, n_rows, dtype):
    rng = np.random.default_rng(dim + 7 * batch + n_rows)
    X = rng.normal(size=(batch, dim)).astype(dtype)
    F = rng.normal(size=(n_rows, dim)).astype(dtype)
    U = rotated.project(X, F)
    assert U.shape == (batch, n_rows) and U.dtype == np.float64
    ref = X.astype(np.float64) @ F.astype(np.float64).T  # the kernel sums in float64
    np.testing.assert_allclose(U, ref, rtol=1e-12, atol=1e-12 * np.sqrt(dim))


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 100, 1808, rotated.PROJECT_BLOCK])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_single_point_product_has_the_bits_of_the_four_by_four_one(n, dtype):
    # a point left over after the blocks of four goes through dot16x1; each of its sums
    # must be bit for bit the one dot4x4 gives the same row and point
    rng = np.random.default_rng(n)
    F = rng.normal(size=(16, n + 3)).astype(dtype)
    X = rng.normal(size=(4, n + 3)).astype(dtype)
    d0, d1 = 3, n + 3
    one = np.array(rotated_blocks.dot16x1(F, 0, X[2, d0:d1], d0, d1))
    blocks = [rotated_blocks.dot4x4(*F[j:j + 4, d0:d1], *X[:, d0:d1], n)
              for j in range(0, 16, 4)]
    four = np.array(blocks).reshape(16, 4)[:, 2]  # row j's sums with each point; point 2
    np.testing.assert_array_equal(one, four)
    np.testing.assert_allclose(one, F[:, d0:d1].astype(np.float64) @ X[2, d0:d1], rtol=1e-12,
                               atol=1e-12 * np.sqrt(max(n, 1)))


@pytest.mark.parametrize("dim", [3, 2 * rotated.BACK_BLOCK + 11])
@pytest.mark.parametrize("n_points", [0, 1, 2, 3, 5])
@pytest.mark.parametrize("s", [1, 8, 21])
def test_back_project_matches_numpy(dim, n_points, s):
    rng = np.random.default_rng(dim + 10 * n_points + s)
    F = rng.normal(size=(s + 9, dim))
    o0 = 4
    V = rng.normal(size=(n_points, s))
    rows = rng.permutation(7)[:n_points].astype(np.int64)  # distinct, in any order
    G = rng.normal(size=(7, dim))
    expect = G.copy()
    expect[rows] += V @ F[o0:o0 + s]
    rotated.back_project(F, o0, s, V, rows, G)
    np.testing.assert_allclose(G, expect, rtol=1e-12, atol=1e-12 * np.sqrt(s))


def test_back_project_leaves_other_rows_alone():
    F = np.ones((8, 40))
    G = np.zeros((4, 40))
    rotated.back_project(F, 0, 8, np.ones((1, 8)), np.array([2]), G)
    np.testing.assert_array_equal(G[[0, 1, 3]], 0.0)
    np.testing.assert_array_equal(G[2], 8.0)


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="slow when interpreted")
@pytest.mark.parametrize("union", ["hard", "soft"])
def test_rotated_point_results_do_not_depend_on_batch_or_threads(union):
    # the blocks of four points and the pairs of the back projection mix points; a point
    # must still get the very same bits alone, at any place in a batch, on any thread count
    spec = random_landscape(rotated.PROJECT_BLOCK + 300, 5, 70, kind="rotated", eps0=0.01,
                            eps1=0.02, anchor_scale=0.3, union=union, tau=0.5, seed=2)
    X = np.random.default_rng(1).normal(size=(11, spec.dim))
    whole = geometry.evaluate(spec, X)
    assert len(set(whole.argmin.tolist())) > 1
    before = numba.get_num_threads()
    try:
        for threads in sorted({1, before}):
            numba.set_num_threads(threads)
            for rows in (slice(0, 1), slice(5, 6), slice(3, 10), slice(None)):
                part = geometry.evaluate(spec, X[rows])
                for field in ("loss", "argmin", "wedge_losses", "grad"):
                    np.testing.assert_array_equal(getattr(part, field),
                                                  getattr(whole, field)[rows])
    finally:
        numba.set_num_threads(before)
