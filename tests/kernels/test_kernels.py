"""Kernels against the NumPy reference, finite differences and their invariants."""

from __future__ import annotations

import dataclasses
import itertools

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from landsim import geometry, reference
from landsim.kernels import axis as axis_kernels
from landsim.kernels import axis_gather, axis_grad, axis_layout
from landsim.kernels import rotated as rotated_kernels
from landsim.kernels.packing import chunk_table, pack_axis, pack_rotated
from landsim.spec import random_landscape

from small_landscapes import landscape, outside_points

CASES = list(itertools.product(["axis", "rotated"], ["origin", "shared", "each"],
                               ["hard", "soft"]))


@pytest.mark.parametrize("kind,anchors,union", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernels_match_reference(kind, anchors, union, dtype):
    spec = landscape(kind, anchors, union)
    X = outside_points(spec, 9).astype(dtype)
    ev = geometry.evaluate(spec, X)
    ref_l = reference.wedge_losses(spec, X)
    ref_total, ref_arg, _ = reference.union(spec, ref_l)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(ev.wedge_losses, ref_l, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(ev.loss, ref_total, rtol=rtol, atol=1e-12)
    np.testing.assert_array_equal(ev.argmin, ref_arg)
    assert ev.grad.dtype == dtype
    ref_g = reference.gradient(spec, X)
    scale = np.abs(ref_g).max()
    np.testing.assert_allclose(ev.grad, ref_g, rtol=0, atol=(1e-12 if dtype == np.float64
                                                             else 1e-5) * scale)


# s <= 0.8 D: the long radius r = sqrt(||y||^2 - ||u||^2) is well conditioned (with s
# close to D it cancels, and two summation orders legitimately disagree about r ~ 0).
@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(dim=st.integers(2, 40), n_wedges=st.integers(1, 5), frac=st.floats(0.05, 0.8),
       eps0=st.floats(0.0, 0.5), eps1=st.floats(0.0, 1.0), kind=st.sampled_from(
           ["axis", "rotated"]), union=st.sampled_from(["hard", "soft"]),
       anchor_scale=st.sampled_from([0.0, 0.5]), batch=st.integers(1, 20),
       seed=st.integers(0, 2**31 - 1))
def test_random_landscapes_match_reference(dim, n_wedges, frac, eps0, eps1, kind, union,
                                           anchor_scale, batch, seed):
    n_short = max(1, int(frac * dim))
    spec = random_landscape(dim, n_wedges, n_short, kind=kind, eps0=eps0, eps1=eps1,
                            anchor_scale=anchor_scale, union=union, tau=0.3, seed=seed)
    X = np.random.default_rng(seed).normal(0, 1.5, (batch, dim))
    # compare where r is not tiny against ||y||: there the r = sqrt(||y||^2 - ||u||^2)
    # and (y - Q u) / r terms are well conditioned for both summation orders
    parts = [reference.wedge_parts(w, X) for w in spec.wedges]
    ok = np.all([p["r"] >= 0.05 * np.linalg.norm(p["y"], axis=1) for p in parts], axis=0)
    assume(ok.any())
    X = X[ok]
    ev = geometry.evaluate(spec, X)
    ref_l = reference.wedge_losses(spec, X)
    np.testing.assert_allclose(ev.wedge_losses, ref_l, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ev.loss, reference.union(spec, ref_l)[0], rtol=1e-10,
                               atol=1e-12)
    ref_g = reference.gradient(spec, X)
    np.testing.assert_allclose(ev.grad, ref_g, rtol=0,
                               atol=1e-10 * max(1.0, np.abs(ref_g).max()))


@pytest.mark.parametrize("kind,anchors,union", CASES)
def test_gradient_matches_finite_differences(kind, anchors, union):
    spec = landscape(kind, anchors, union, eps1=0.3)
    X = outside_points(spec, 4, seed=5)
    G = geometry.gradient(spec, X)
    h = 1e-6
    eye = np.eye(spec.dim)
    for b in range(X.shape[0]):
        plus = geometry.loss(spec, X[b] + h * eye)
        minus = geometry.loss(spec, X[b] - h * eye)
        fd = (plus - minus) / (2 * h)
        np.testing.assert_allclose(G[b], fd, rtol=1e-5, atol=1e-6 * max(1, np.abs(fd).max()))


@pytest.mark.parametrize("kind,anchors,union", CASES)
def test_hvp_matches_reference_and_gradient_differences(kind, anchors, union):
    spec = landscape(kind, anchors, union, eps1=0.3)
    rng = np.random.default_rng(3)
    X = outside_points(spec, 5, seed=3)
    V = rng.normal(size=X.shape)
    HV = geometry.hvp(spec, X, V)
    np.testing.assert_allclose(HV, reference.hvp(spec, X, V), rtol=1e-10, atol=1e-10)
    h = 1e-6
    fd = (geometry.gradient(spec, X + h * V) - geometry.gradient(spec, X - h * V)) / (2 * h)
    np.testing.assert_allclose(HV, fd, rtol=1e-4, atol=1e-5 * max(1, np.abs(fd).max()))


def test_hvp_is_symmetric():
    spec = landscape("rotated", "each", "soft", eps1=0.3)
    rng = np.random.default_rng(8)
    x = outside_points(spec, 1, seed=8)
    V, W = rng.normal(size=(2, spec.dim))
    hv = geometry.hvp(spec, x, V[None])[0]
    hw = geometry.hvp(spec, x, W[None])[0]
    assert abs(hv @ W - hw @ V) <= 1e-9 * max(1.0, abs(hv @ W))


@pytest.mark.parametrize("kind", ["axis", "rotated"])
def test_soft_union_bounds(kind):
    spec = landscape(kind, "origin", "soft", tau=0.7, n_wedges=3)
    X = outside_points(spec, 50, seed=2)
    ev = geometry.evaluate(spec, X, grad=False)
    lmin = ev.wedge_losses.min(axis=1)
    assert np.all(lmin <= ev.loss + 1e-12)
    assert np.all(ev.loss <= lmin + spec.tau * np.log(spec.n_wedges) + 1e-12)
    # the upper bound is reached when all wedges tie: at the anchor every loss is 0
    assert geometry.loss(spec, np.zeros(spec.dim)) == pytest.approx(0.0, abs=1e-15)


def test_soft_union_is_stable_for_huge_losses():
    spec = landscape("axis", "origin", "soft", tau=1e-3, eps1=0.001)
    X = outside_points(spec, 3, scale=1e6)
    ev = geometry.evaluate(spec, X)
    assert np.all(np.isfinite(ev.loss)) and np.all(np.isfinite(ev.grad))
    lmin = ev.wedge_losses.min(axis=1)
    assert np.all(lmin > 1e9)  # exp(-l / tau) underflows: a naive soft-min gives inf
    assert np.all((ev.loss >= lmin) & (ev.loss <= lmin + spec.tau * np.log(spec.n_wedges)))


def test_hard_union_ties_go_to_lowest_index():
    spec = landscape("axis", "origin", "hard")
    ev = geometry.evaluate(spec, np.zeros((2, spec.dim)))
    np.testing.assert_array_equal(ev.argmin, [0, 0])


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="minutes when interpreted")
def test_results_do_not_depend_on_thread_count():
    spec = random_landscape(50_000, 6, 7000, eps0=0.01, eps1=0.01, seed=4)
    X = np.random.default_rng(0).normal(size=(3, spec.dim))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = geometry.evaluate(spec, X)
        numba.set_num_threads(before)
        many = geometry.evaluate(spec, X)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one.loss, many.loss)
    np.testing.assert_array_equal(one.grad, many.grad)


def test_axis_kernel_callable_from_user_njit_code():
    spec = landscape("axis", "shared", "hard")
    p = pack_axis(spec)

    @numba.njit
    def user_descent_step(x, lr):
        G = np.empty_like(x)
        total, arg, wl, ysq = axis_kernels.loss_and_grad(
            x, p.anchors, p.axes, p.offsets, p.chunk_ptr, p.chunk_wedge, p.chunk_lo,
            p.chunk_hi, p.eps0, p.eps1, False, 1.0, G)
        return x - lr * G, total

    X = outside_points(spec, 4)
    stepped, total = user_descent_step(X, 0.01)
    np.testing.assert_allclose(total, reference.loss(spec, X), rtol=1e-12)
    np.testing.assert_allclose(stepped, X - 0.01 * reference.gradient(spec, X), rtol=1e-12,
                               atol=1e-14)


def test_rotated_kernel_callable_from_user_njit_code():
    spec = landscape("rotated", "each", "soft")
    q = pack_rotated(spec)

    @numba.njit
    def user_loss(x, want_grad):
        total, arg, wl, G = rotated_kernels.loss_and_grad(
            x, q.anchors, q.frames_t, q.frame_anchor, q.offsets, q.eps0, q.eps1, True, 0.5,
            want_grad)
        return total, G

    X = outside_points(spec, 3)
    total, G = user_loss(X, False)
    np.testing.assert_allclose(total, reference.loss(spec, X), rtol=1e-12)
    assert G.shape == (0, spec.dim)
    total, G = user_loss(X, True)
    ref_g = reference.gradient(spec, X)
    np.testing.assert_allclose(G, ref_g, rtol=0, atol=1e-12 * np.abs(ref_g).max())


def test_gradient_out_argument():
    spec = landscape("axis", "origin", "hard")
    X = outside_points(spec, 5)
    out = np.full_like(X, np.nan)
    loss, grad = geometry.loss_and_grad(spec, X, out=out)
    assert grad is out
    np.testing.assert_allclose(out, reference.gradient(spec, X), rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match=r"out must be a writeable C-contiguous float64 array "
                                         r"of shape \(5, 24\)"):
        geometry.loss_and_grad(spec, X, out=np.empty((5, 23)))
    with pytest.raises(ValueError, match="out is only used with grad=True"):
        geometry.evaluate(spec, X, grad=False, out=out)


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="minutes when interpreted")
def test_large_sparse_landscape_against_reference():
    # exercises many slabs, wedges sharing axes and points with B > 16
    spec = random_landscape(20000, 12, 3000, eps0=0.02, eps1=0.005, seed=6)
    X = np.random.default_rng(1).normal(size=(21, spec.dim))
    ev = geometry.evaluate(spec, X)
    np.testing.assert_allclose(ev.wedge_losses, reference.wedge_losses(spec, X), rtol=1e-11)
    np.testing.assert_allclose(ev.grad, reference.gradient(spec, X), rtol=0, atol=1e-11)


USER_NJIT_SNIPPET = """
import numba, numpy as np
from landsim import random_landscape
from landsim.kernels import axis, rotated
from landsim.kernels.packing import pack_axis, pack_rotated
p = pack_axis(random_landscape(24, 3, 4, seed=0))
q = pack_rotated(random_landscape(24, 3, 4, kind="rotated", seed=0))

@numba.njit
def user(x):
    return axis.loss_and_grad(x, p.anchors, p.axes, p.offsets, p.chunk_ptr, p.chunk_wedge,
                              p.chunk_lo, p.chunk_hi, p.eps0, p.eps1, False, 1.0,
                              np.empty_like(x))[0]

@numba.njit
def user_rotated(x):
    total, arg, wl, G = rotated.loss_and_grad(x, q.anchors, q.frames_t, q.frame_anchor,
                                              q.offsets, q.eps0, q.eps1, False, 1.0, True)
    return total[0] + np.abs(G).sum()

print(user_rotated(np.ones((2, 24))), user(np.ones((2, 24)))[0])
"""


def test_cached_parallel_kernels_link_into_user_njit_code_in_a_fresh_process():
    # parallel kernels loaded from the disk cache need the threading layer's symbols when
    # they are linked into new user code; a fresh process is where that used to abort
    import subprocess
    import sys

    for _ in range(2):  # the second run loads everything from the cache
        out = subprocess.run([sys.executable, "-c", USER_NJIT_SNIPPET], capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        assert float(out.stdout.split()[-1]) > 0


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="minutes when interpreted")
@pytest.mark.parametrize("anchors", ["origin", "shared", "each"])
@pytest.mark.parametrize("union", ["hard", "soft"])
@pytest.mark.parametrize("batch", [1, 8, 13, 21])
def test_chunked_kernels_match_reference(anchors, union, batch):
    # several chunks (the last one partial), blocks of 8 points plus single points, one
    # or two point blocks, wedges sharing axes, some points inside wedges (skipped relu)
    dim = 2 * axis_layout.CHUNK + 777
    spec = random_landscape(dim, 7, [300, 1500, 40, 2600, 900, 5, 1200], eps0=0.05,
                            eps1=0.01, anchor_scale=0.0 if anchors == "origin" else 0.4,
                            union=union, tau=0.7, seed=batch)
    if anchors == "shared":
        a = spec.wedges[0].anchor
        spec = spec.replace(wedges=tuple(dataclasses.replace(w, anchor=a)
                                         for w in spec.wedges))
    X = np.random.default_rng(batch).normal(size=(batch, dim))
    a3 = spec.wedges[3].anchor_or_origin()  # strictly inside wedge 3 (eps0 > 0): loss 0,
    X[0] = a3 + 0.5 * (geometry.project_onto_wedge(spec, 3, X[0]) - a3)  # relu skipped at B=1
    for dtype in (np.float64, np.float32):
        Xd = X.astype(dtype)
        ev = geometry.evaluate(spec, Xd)
        ref_l = reference.wedge_losses(spec, Xd)
        np.testing.assert_allclose(ev.wedge_losses, ref_l, rtol=1e-11, atol=1e-12)
        if dtype == np.float64:
            assert ev.wedge_losses[0, 3] == 0.0
        ref_g = reference.gradient(spec, Xd)
        tol = 1e-11 if dtype == np.float64 else 1e-5
        np.testing.assert_allclose(ev.grad, ref_g, rtol=0,
                                   atol=tol * max(1.0, np.abs(ref_g).max()))


@pytest.mark.parametrize("chunk", [1, 3, 8, 64])
def test_chunk_table_lists_each_wedges_axes_per_chunk(chunk):
    # one wedge holds 49 of the 50 axes (s <= D - 1: check_n_short), so nearly every chunk
    spec = random_landscape(50, 6, [1, 7, 20, 49, 3, 12], seed=chunk)
    p = pack_axis(spec)
    ptr, wedge, lo, hi = chunk_table(p.axes, p.offsets, spec.dim, chunk)
    n_chunks = -(-spec.dim // chunk)
    assert ptr.shape == (n_chunks + 1,) and ptr[0] == 0 and ptr[-1] == wedge.size
    for c in range(n_chunks):
        entries = range(ptr[c], ptr[c + 1])
        expected = {k: [i for i in w.short_axes if c * chunk <= i < (c + 1) * chunk]
                    for k, w in enumerate(spec.wedges)}
        expected = {k: v for k, v in expected.items() if v}
        assert [wedge[e] for e in entries] == sorted(expected)  # wedges ascending, no empties
        for e in entries:
            assert p.axes[lo[e]:hi[e]].tolist() == sorted(expected[wedge[e]])


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="minutes when interpreted")
@pytest.mark.parametrize("anchors", ["origin", "shared", "each"])
@pytest.mark.parametrize("batch", [1, 9, 21])
def test_gather_and_chunk_paths_agree_with_reference(anchors, batch):
    # the same statistics by per-point gathers and by chunk copies; each path is also
    # the one geometry.evaluate takes for a landscape of its kind (dense vs sparse)
    dense = random_landscape(3 * axis_layout.CHUNK + 5, 6, 2500, eps0=0.05, eps1=0.01,
                             anchor_scale=0.0 if anchors == "origin" else 0.4, seed=batch)
    sparse = random_landscape(20000, 4, [500, 9, 1200, 300], eps0=0.05, eps1=0.01,
                              anchor_scale=0.0 if anchors == "origin" else 0.4, seed=batch)
    for spec, gathers in ((dense, False), (sparse, True)):
        if anchors == "shared":
            a = spec.wedges[0].anchor
            spec = spec.replace(wedges=tuple(dataclasses.replace(w, anchor=a)
                                             for w in spec.wedges))
        p = pack_axis(spec)
        assert axis_kernels.gathers_pay(spec.dim, p.axes.size, p.chunk_wedge.size) == gathers
        X = np.random.default_rng(batch).normal(size=(batch, spec.dim))
        by_chunks = axis_kernels.wedge_stats(
            X, p.anchors, p.axes, p.offsets, p.chunk_ptr, p.chunk_wedge, p.chunk_lo,
            p.chunk_hi, p.eps0, p.eps1) if not gathers else None
        G = np.empty_like(X)
        by_points = axis_gather.point_stats(X, p.anchors, p.axes, p.offsets, p.eps0, p.eps1, G)
        arg = np.argmin(by_points[0], axis=0)
        coef = axis_grad.width_coefficient(by_points[1], by_points[3], p.eps1)
        G_rows = np.empty_like(X)  # the fused hard gradient equals the separate pass
        axis_grad.gradient_hard(X, p.anchors, p.axes, p.offsets, arg, coef, by_points[2],
                                   G_rows)
        np.testing.assert_array_equal(G, G_rows)
        ref = reference.wedge_losses(spec, X).T
        np.testing.assert_allclose(by_points[0], ref, rtol=1e-11, atol=1e-12)
        if by_chunks is not None:
            for mine, theirs in zip(by_chunks, by_points):
                np.testing.assert_allclose(mine, theirs, rtol=1e-11, atol=1e-12)
        ev = geometry.evaluate(spec, X)
        np.testing.assert_allclose(ev.wedge_losses, ref.T, rtol=1e-11, atol=1e-12)
        ref_g = reference.gradient(spec, X)
        np.testing.assert_allclose(ev.grad, ref_g, rtol=0,
                                   atol=1e-11 * max(1.0, np.abs(ref_g).max()))


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="minutes when interpreted")
def test_each_points_results_do_not_depend_on_its_batch():
    # many wedges: a big batch is summed group by group; a point must get the very same
    # bits alone, in a block (as the service streams it) and in the whole batch
    spec = random_landscape(8 * axis_layout.CHUNK, 4096, 400, eps0=0.01, eps1=0.02, seed=9)
    p = pack_axis(spec)
    assert not axis_kernels.gathers_pay(spec.dim, p.axes.size, p.chunk_wedge.size)
    nslab, group = axis_layout._layout(p.chunk_ptr.size - 1, spec.n_wedges)
    X = np.random.default_rng(3).normal(size=(2 * group + 37, spec.dim))
    whole = geometry.evaluate(spec, X)
    for rows in (slice(0, 1), slice(group - 5, group + 30), slice(2 * group + 36, None)):
        part = geometry.evaluate(spec, X[rows])
        for field in ("loss", "argmin", "wedge_losses", "grad"):
            np.testing.assert_array_equal(getattr(part, field), getattr(whole, field)[rows])


def test_axis_keeps_the_names_of_its_split_modules():
    """landsim.kernels.axis still offers the gradient kernels and the layout constants that
    moved to axis_grad and axis_layout (the same objects: loss_and_grad calls them)."""
    for name in ("width_coefficient", "gradient_hard", "gradient_soft"):
        assert getattr(axis_kernels, name) is getattr(axis_grad, name)
        assert name in axis_kernels.__all__
    for name in ("CHUNK", "POINT_BLOCK"):
        assert getattr(axis_kernels, name) == getattr(axis_layout, name)
        assert name in axis_kernels.__all__
