"""Tests of landsim.geometry: exact derived geometry of wedge-union landscapes."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from landsim import geometry as G
from landsim import reference
from landsim.spec import LandscapeSpec, WedgeSpec, random_landscape

KINDS = ["axis", "rotated"]


def random_orthogonal(dim: int, seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, dim)))
    return q


def with_anchor(spec: LandscapeSpec, anchor) -> LandscapeSpec:
    """The same wedges, all moved to one shared anchor."""
    return spec.replace(wedges=tuple(
        WedgeSpec(dim=w.dim, eps0=w.eps0, eps1=w.eps1, short_axes=w.short_axes,
                  short_frame=w.short_frame, anchor=anchor) for w in spec.wedges))


def short_coords(w: WedgeSpec, X: np.ndarray) -> np.ndarray:
    return reference.wedge_parts(w, np.atleast_2d(X))["u"]


def long_radius(w: WedgeSpec, X: np.ndarray) -> np.ndarray:
    return reference.wedge_parts(w, np.atleast_2d(X))["r"]


@pytest.fixture(params=KINDS)
def kind(request):
    return request.param


@pytest.fixture
def spec3(kind):
    """D = 30, three wedges with s = 4, 6, 5, shared non-zero anchor."""
    base = random_landscape(30, 3, [4, 6, 5], kind=kind, eps0=0.02, eps1=0.05, seed=3)
    return with_anchor(base, np.random.default_rng(9).normal(0.0, 0.5, 30))


# ------------------------------------------------------------------ intersection
def test_axis_intersection_is_union_of_index_sets():
    spec = random_landscape(40, 4, [5, 7, 3, 9], seed=21)
    sets = [set(w.short_axes.tolist()) for w in spec.wedges]
    for J in ([0], [1, 2], [0, 1, 2], [3, 0, 1, 2], (2, 3)):
        inter = G.intersection(spec, J)
        union = set().union(*(sets[k] for k in J))
        assert inter.short_count == len(union)
        assert inter.axes.tolist() == sorted(union)
        assert inter.long_dim == 40 - len(union)
        assert inter.wedges == tuple(J) and inter.dim == 40 and inter.basis is None
    # overlapping index sets: the count is less than the sum
    spec = LandscapeSpec(wedges=(
        WedgeSpec(dim=10, eps0=0.0, eps1=0.1, short_axes=[0, 1, 2]),
        WedgeSpec(dim=10, eps0=0.0, eps1=0.1, short_axes=[2, 3]),
        WedgeSpec(dim=10, eps0=0.0, eps1=0.1, short_axes=[1, 2]),
    ))
    assert G.intersection(spec, [0, 1]).short_count == 4
    assert G.intersection(spec, [0, 2]).short_count == 3
    assert G.intersection(spec, [0, 1, 2]).long_dim == 6


def test_rotated_intersection_is_rank_of_stacked_frames():
    dim = 20
    spec = random_landscape(dim, 3, [6, 8, 9], kind="rotated", seed=4)
    for J, rank in (([0], 6), ([0, 1], 14), ([1, 2], 17), ([0, 1, 2], 20)):
        inter = G.intersection(spec, J)
        stacked = np.concatenate([spec.wedges[k].short_frame for k in J], axis=1)
        assert inter.short_count == rank == np.linalg.matrix_rank(stacked)
        assert inter.long_dim == dim - rank
        B = inter.basis
        assert B.shape == (dim, rank) and inter.axes is None
        np.testing.assert_allclose(B.T @ B, np.eye(rank), atol=1e-12)
        # the basis spans every frame of J
        for k in J:
            Q = spec.wedges[k].short_frame
            np.testing.assert_allclose(B @ (B.T @ Q), Q, atol=1e-12)


def test_rotated_intersection_with_shared_directions():
    dim = 16
    M = random_orthogonal(dim, 5)
    c = math.sqrt(0.5)
    mixed = np.stack([c * (M[:, 2] + M[:, 3]), c * (M[:, 2] - M[:, 3])], axis=1)
    frames = [M[:, 0:4],                                  # span{m0..m3}
              M[:, 3:7],                                  # shares m3 with wedge 0
              np.concatenate([mixed, M[:, 9:10]], axis=1)]  # span{m2, m3, m9}: rotated
    spec = LandscapeSpec(wedges=tuple(
        WedgeSpec(dim=dim, eps0=0.0, eps1=0.1, short_frame=f) for f in frames))
    assert G.intersection(spec, [0, 1]).short_count == 7  # 4 + 4 - 1
    assert G.intersection(spec, [0, 2]).short_count == 5  # 4 + 3 - 2
    assert G.intersection(spec, [1, 2]).short_count == 6  # 4 + 3 - 1
    inter = G.intersection(spec, [0, 1, 2])
    assert inter.short_count == 8 and inter.long_dim == 8  # m0..m6, m9
    # the intersection point has zero loss in all three wedges (eps = 0 subspaces)
    x = G.intersection_point(spec, [0, 1, 2], radius=2.0, seed=1)
    assert np.all(G.wedge_losses(spec, x) <= 1e-20)
    np.testing.assert_allclose(M[:, [0, 1, 2, 3, 4, 5, 6, 9]].T @ x, 0.0, atol=1e-12)


def test_expected_short_count_formula():
    assert G.expected_short_count(40, 5, 0) == 0.0
    assert G.expected_short_count(40, 5, 1) == pytest.approx(5.0)
    assert G.expected_short_count(40, 40, 3) == 40.0
    for dim, s, m in ((40, 5, 3), (60, 10, 6), (10, 1, 2)):
        assert G.expected_short_count(dim, s, m) == pytest.approx(
            dim * (1.0 - (1.0 - s / dim) ** m), rel=1e-15)
    # m = 2 by hand: |A u B| = 2s - |A n B|, E|A n B| = s^2 / D
    assert G.expected_short_count(40, 5, 2) == pytest.approx(10 - 25 / 40, rel=1e-15)
    # every added optimum adds short directions
    counts = [G.expected_short_count(40, 5, m) for m in range(8)]
    assert np.all(np.diff(counts) > 0)
    for args in ((0, 1, 1), (10, 11, 1), (10, -1, 1), (10, 2, -1)):
        with pytest.raises(ValueError, match=r"need dim >= 1, 0 <= n_short <= dim, m >= 0"):
            G.expected_short_count(*args)


@pytest.mark.parametrize("dim, s, m", [(30, 5, 4), (20, 8, 3)])
def test_expected_short_count_monte_carlo(dim, s, m):
    n = 400
    counts = np.array([G.intersection(random_landscape(dim, m, s, seed=1000 + i),
                                      range(m)).short_count for i in range(n)])
    expected = G.expected_short_count(dim, s, m)
    se = counts.std(ddof=1) / math.sqrt(n)
    assert abs(counts.mean() - expected) <= 3 * se
    assert np.all(counts >= s) and np.all(counts <= min(dim, m * s))


# --------------------------------------------------------- points of intersection
@pytest.mark.parametrize("eps", [(0.0, 0.0), (0.02, 0.05)])
def test_intersection_point_zero_loss(kind, eps):
    base = random_landscape(30, 4, [4, 6, 5, 8], kind=kind, eps0=eps[0], eps1=eps[1],
                            seed=11)
    anchor = np.random.default_rng(2).normal(0.0, 0.5, 30)
    spec = with_anchor(base, anchor)
    for J in ([0], [0, 1], [1, 2, 3], [0, 1, 2, 3]):
        for seed in range(3):
            x = G.intersection_point(spec, J, radius=3.0, seed=seed)
            assert x.shape == (30,)
            assert np.linalg.norm(x - anchor) == pytest.approx(3.0, rel=1e-12)
            wl = G.wedge_losses(spec, x)
            assert np.all(wl[list(J)] <= 1e-20)
            assert np.all(reference.wedge_losses(spec, x[None])[0, list(J)] <= 1e-20)
            assert G.loss(spec, x) <= 1e-20
    # same seed, same point; different seed, different point
    np.testing.assert_array_equal(G.intersection_point(spec, [0, 1], seed=4),
                                  G.intersection_point(spec, [0, 1], seed=4))
    assert not np.allclose(G.intersection_point(spec, [0, 1], seed=4),
                           G.intersection_point(spec, [0, 1], seed=5))


def test_intersection_point_outside_other_wedges(kind):
    """A point of W_0 n W_1 is generically not in W_2 (narrow wedges)."""
    spec = random_landscape(30, 3, 5, kind=kind, eps0=0.0, eps1=0.01, seed=6)
    inter01 = G.intersection(spec, [0, 1])
    assert G.intersection(spec, [0, 1, 2]).short_count > inter01.short_count
    for seed in range(5):
        x = G.intersection_point(spec, [0, 1], radius=1.0, seed=seed)
        wl = G.wedge_losses(spec, x)
        assert wl[0] <= 1e-20 and wl[1] <= 1e-20
        assert wl[2] > 1e-4
        assert not G.membership(spec, x).inside[2]


def test_project_onto_intersection(spec3):
    X = np.random.default_rng(0).normal(0.0, 2.0, (20, 30))
    anchor = spec3.wedges[0].anchor
    for J in ([0, 1], [0, 1, 2], [2]):
        P = G.project_onto_intersection(spec3, J, X)
        assert P.shape == X.shape and P.dtype == np.float64
        wl = G.wedge_losses(spec3, P)
        assert np.all(wl[:, J] <= 1e-20)
        inter = G.intersection(spec3, J)
        B = inter.basis if inter.basis is not None else np.eye(30)[:, inter.axes]
        # only the short span moves, and it goes to zero
        np.testing.assert_allclose((P - anchor) @ B, 0.0, atol=1e-12)
        D = (P - X) - ((P - X) @ B) @ B.T
        np.testing.assert_allclose(D, 0.0, atol=1e-12)
        # idempotent
        np.testing.assert_allclose(G.project_onto_intersection(spec3, J, P), P, atol=1e-12)
    x1 = G.project_onto_intersection(spec3, [0, 1], X[0])
    assert x1.shape == (30,)
    np.testing.assert_allclose(x1, G.project_onto_intersection(spec3, [0, 1], X)[0],
                               rtol=0, atol=1e-14)


def test_intersection_point_no_long_direction():
    spec = random_landscape(10, 2, [6, 5], kind="rotated", seed=0)
    assert G.intersection(spec, [0, 1]).long_dim == 0
    with pytest.raises(ValueError, match=r"no long direction"):
        G.intersection_point(spec, [0, 1])


# ---------------------------------------------------------------- projection
def test_project_onto_wedge_properties(spec3):
    rng = np.random.default_rng(1)
    X = rng.normal(0.0, 2.0, (50, 30))
    for k, w in enumerate(spec3.wedges):
        P = G.project_onto_wedge(spec3, k, X)
        assert P.shape == X.shape and P.dtype == np.float64
        wl = G.wedge_losses(spec3, P)[:, k]
        assert np.all(wl <= 1e-20)
        assert np.all(G.wedge_losses(spec3, X)[:, k] > 0)  # the test moved every point
        # the long coordinates are untouched
        if w.kind == "axis":
            long = np.setdiff1d(np.arange(30), w.short_axes)
            assert np.array_equal(P[:, long], X[:, long])
        else:
            Q = w.short_frame
            delta = P - X
            np.testing.assert_allclose(delta - (delta @ Q) @ Q.T, 0.0, atol=1e-12)
        # r unchanged, short coordinates clipped to [-w, w] at that r
        r = long_radius(w, X)
        np.testing.assert_allclose(long_radius(w, P), r, rtol=1e-12)
        width = w.eps0 + w.eps1 * r
        np.testing.assert_allclose(short_coords(w, P),
                                   np.clip(short_coords(w, X), -width[:, None],
                                           width[:, None]), atol=1e-12)
        # idempotent
        np.testing.assert_allclose(G.project_onto_wedge(spec3, k, P), P, rtol=0, atol=1e-12)
        # matches the reference oracle
        np.testing.assert_allclose(P, reference.project_onto_wedge(w, X), rtol=0, atol=1e-12)
        # single point
        p0 = G.project_onto_wedge(spec3, k, X[0])
        assert p0.shape == (30,)
        np.testing.assert_allclose(p0, P[0], rtol=0, atol=1e-14)


def test_project_onto_wedge_identity_inside(spec3):
    rng = np.random.default_rng(2)
    anchor = spec3.wedges[0].anchor
    for k, w in enumerate(spec3.wedges):
        # points inside: short coordinates strictly inside [-w, w]
        Y = rng.normal(0.0, 2.0, (30, 30))
        r = long_radius(w, Y + anchor)
        width = w.eps0 + w.eps1 * r
        U = short_coords(w, Y + anchor)
        frac = rng.uniform(-0.99, 0.99, U.shape)
        Yin = Y + (frac * width[:, None] - U) @ w.short_basis().T
        Xin = Yin + anchor
        assert np.all(G.wedge_losses(spec3, Xin)[:, k] == 0.0)
        np.testing.assert_allclose(G.project_onto_wedge(spec3, k, Xin), Xin, rtol=0,
                                   atol=1e-13)
        # intersection points too
        x = G.intersection_point(spec3, [k], radius=1.5, seed=k)
        np.testing.assert_allclose(G.project_onto_wedge(spec3, k, x), x, rtol=0, atol=1e-13)


def test_projection_is_nearest_point(kind):
    """eps1 = 0: clipping is the exact Euclidean projection onto the convex slab set."""
    dim = 24
    spec = random_landscape(dim, 2, [5, 3], kind=kind, eps0=[0.3, 0.1], eps1=0.0, seed=8)
    rng = np.random.default_rng(3)
    X = rng.normal(0.0, 2.0, (20, dim))
    for k, w in enumerate(spec.wedges):
        P = G.project_onto_wedge(spec, k, X)
        Qb = w.short_basis()
        for x, p in zip(X, P):
            # random points of W_k: arbitrary long part, short coordinates in [-eps0, eps0]
            Z = rng.normal(0.0, 2.0, (300, dim))
            Z = Z - (Z @ Qb) @ Qb.T + rng.uniform(-w.eps0, w.eps0, (300, w.n_short)) @ Qb.T
            # and points of W_k close to p
            near = G.project_onto_wedge(spec, k, p + rng.normal(0.0, 0.05, (300, dim)))
            others = np.concatenate([Z, near])
            assert np.all(G.wedge_losses(spec, others)[:, k] <= 1e-20)
            d = np.linalg.norm(x - p)
            assert np.all(np.linalg.norm(others - x, axis=1) >= d - 1e-12)
            # variational inequality of the projection onto a convex set
            assert np.all((others - p) @ (x - p) <= 1e-10)


def test_projection_nearest_among_short_moves(spec3):
    """eps1 > 0: nearest point of W_k that keeps the long component of x."""
    rng = np.random.default_rng(4)
    X = rng.normal(0.0, 2.0, (15, 30))
    anchor = spec3.wedges[0].anchor
    for k, w in enumerate(spec3.wedges):
        P = G.project_onto_wedge(spec3, k, X)
        Qb = w.short_basis()
        width = w.eps0 + w.eps1 * long_radius(w, X)
        for x, p, wd in zip(X, P, width):
            y = x - anchor
            base = y - Qb @ (Qb.T @ y) + anchor
            cands = base + rng.uniform(-wd, wd, (200, w.n_short)) @ Qb.T
            assert np.all(G.wedge_losses(spec3, cands)[:, k] <= 1e-20)
            assert np.all(np.linalg.norm(cands - x, axis=1) >= np.linalg.norm(p - x) - 1e-12)


# ------------------------------------------------------------------ membership
def test_membership(spec3):
    rng = np.random.default_rng(5)
    X = np.concatenate([
        rng.normal(0.0, 2.0, (40, 30)),
        G.project_onto_wedge(spec3, 1, rng.normal(0.0, 2.0, (10, 30))),
        np.stack([G.intersection_point(spec3, [0, 2], seed=i) for i in range(5)]),
        np.stack([G.intersection_point(spec3, [0, 1, 2], seed=i) for i in range(5)]),
        # near the boundary of wedge 2
        G.project_onto_wedge(spec3, 2, rng.normal(0.0, 2.0, (10, 30))) * 1.0001,
    ])
    wl = G.wedge_losses(spec3, X)
    assert np.any(wl == 0.0) and np.any(wl > 0.0)
    for tol in (0.0, 1e-12, float(np.median(wl)), 1e6):
        m = G.membership(spec3, X, tol=tol)
        assert m.inside.shape == (X.shape[0], 3) and m.inside.dtype == bool
        np.testing.assert_array_equal(m.inside, wl <= tol)
        np.testing.assert_array_equal(m.argmin, np.argmin(wl, axis=1))
    assert G.membership(spec3, X).inside[-15:-10].all()  # triple intersection points
    # ties (several zero losses) go to the lowest index
    m = G.membership(spec3, X[-20:-10])
    assert np.all(m.argmin == 0)
    np.testing.assert_array_equal(G.argmin_wedge(spec3, X), np.argmin(wl, axis=1))
    m1 = G.membership(spec3, X[0], tol=0.5)
    assert m1.inside.shape == (3,) and np.ndim(m1.argmin) == 0
    for bad in (-1e-9, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match=r"tol must be in \[0, inf\[, got"):
            G.membership(spec3, X, tol=bad)


# ------------------------------------------------------------- input handling
def test_single_point_shapes_and_dtypes(kind):
    spec = random_landscape(20, 3, 4, kind=kind, eps0=0.05, eps1=0.05, seed=2)
    X = np.random.default_rng(0).normal(0.0, 2.0, (4, 20))
    ev = G.evaluate(spec, X[1])
    assert np.shape(ev.loss) == () and np.shape(ev.argmin) == ()
    assert ev.wedge_losses.shape == (3,) and ev.grad.shape == (20,)
    evb = G.evaluate(spec, X)
    assert evb.loss.shape == (4,) and evb.wedge_losses.shape == (4, 3)
    assert evb.grad.shape == (4, 20) and evb.argmin.shape == (4,)
    assert evb.loss.dtype == np.float64 and evb.grad.dtype == np.float64
    assert ev.loss == pytest.approx(evb.loss[1], rel=1e-14)
    np.testing.assert_allclose(ev.grad, evb.grad[1], rtol=1e-13, atol=1e-14)
    assert G.evaluate(spec, X, grad=False).grad is None
    assert np.shape(G.loss(spec, X[0])) == ()
    assert G.gradient(spec, X[0]).shape == (20,)
    assert G.wedge_losses(spec, X[0]).shape == (3,)
    assert np.shape(G.argmin_wedge(spec, X[0])) == ()
    L, g = G.loss_and_grad(spec, X[0])
    assert np.shape(L) == () and g.shape == (20,)
    assert G.hvp(spec, X[0], X[1]).shape == (20,)
    assert np.shape(G.directional_curvature(spec, X[0], X[1])) == ()
    assert G.directional_curvature(spec, X[:2], X[2:]).shape == (2,)
    # float32 in, float32 gradient out (losses stay float64)
    X32 = X.astype(np.float32)
    ev32 = G.evaluate(spec, X32)
    assert ev32.grad.dtype == np.float32 and ev32.loss.dtype == np.float64
    assert G.gradient(spec, X32[0]).dtype == np.float32
    np.testing.assert_allclose(ev32.grad, G.gradient(spec, X32.astype(np.float64)),
                               rtol=1e-4, atol=1e-4)
    # integer input works and equals the float computation
    Xi = np.round(X).astype(np.int64)
    np.testing.assert_array_equal(G.loss(spec, Xi), G.loss(spec, Xi.astype(np.float64)))
    np.testing.assert_array_equal(G.gradient(spec, Xi), G.gradient(spec, Xi.astype(float)))
    assert G.gradient(spec, Xi).dtype == np.float64
    assert G.loss(spec, Xi.tolist()).shape == (4,)


@pytest.mark.parametrize("anchors", ["origin", "shared", "each"])
@pytest.mark.parametrize("union", ["hard", "soft"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_axis_kernel_flags_non_finite_points(anchors, union, bad):
    # the axis kernels check finiteness through their own sums: any NaN or inf, in any
    # point and any coordinate (float32 too), must still raise, whatever the anchors
    spec = random_landscape(9000, 5, 700, eps0=0.05, eps1=0.01, seed=3,
                            anchor_scale=0.0 if anchors == "origin" else 0.3,
                            union=union, tau=0.5)
    if anchors == "shared":
        a = spec.wedges[0].anchor
        spec = spec.replace(
            wedges=tuple(dataclasses.replace(w, anchor=a) for w in spec.wedges))
    X = np.random.default_rng(0).normal(size=(19, spec.dim))
    for dtype in (np.float64, np.float32):
        for b, i in [(0, 0), (18, spec.dim - 1), (7, int(spec.wedges[2].short_axes[0]))]:
            Y = X.astype(dtype)
            Y[b, i] = bad
            with pytest.raises(ValueError, match=r"X must be finite, found NaN or inf"):
                G.evaluate(spec, Y)
            with pytest.raises(ValueError, match=r"X must be finite, found NaN or inf"):
                G.evaluate(spec, Y, grad=False)
    # huge but finite values overflow the kernel's sums; that is not an input error
    Y = X.copy()
    Y[2, 5] = 1e200
    assert G.evaluate(spec, Y).loss.shape == (19,)


def test_bad_inputs(kind):
    spec = random_landscape(20, 3, 4, kind=kind, eps0=0.05, eps1=0.05, seed=2)
    x = np.ones(20)
    shape_msg = r"X must have shape \(B, 20\) or \(20,\), got "
    with pytest.raises(ValueError, match=shape_msg + r"\(19,\)"):
        G.evaluate(spec, np.ones(19))
    with pytest.raises(ValueError, match=shape_msg + r"\(3, 21\)"):
        G.loss(spec, np.ones((3, 21)))
    with pytest.raises(ValueError, match=shape_msg + r"\(2, 3, 20\)"):
        G.gradient(spec, np.ones((2, 3, 20)))
    with pytest.raises(ValueError, match=shape_msg + r"\(\)"):
        G.loss(spec, 1.0)
    with pytest.raises(ValueError, match=r"X must hold at least 1 point, got shape \(0, 20\)"):
        G.loss(spec, np.ones((0, 20)))
    for bad in (np.nan, np.inf):
        y = x.copy()
        y[3] = bad
        with pytest.raises(ValueError, match=r"X must be finite, found NaN or inf"):
            G.evaluate(spec, y)
    with pytest.raises(ValueError, match=r"X must be float32 or float64, got dtype complex128"):
        G.loss(spec, x.astype(complex))
    with pytest.raises(ValueError, match=r"X must be float32 or float64, got dtype float16"):
        G.loss(spec, x.astype(np.float16))
    with pytest.raises(ValueError, match=r"X must be float32 or float64, got dtype <U"):
        G.loss(spec, ["a"] * 20)
    # hvp / directional curvature
    X = np.ones((2, 20))
    with pytest.raises(ValueError, match=r"V must have the shape of X \(2, 20\), "
                                         r"got \(3, 20\)"):
        G.hvp(spec, X, np.ones((3, 20)))
    with pytest.raises(ValueError, match=r"V must have shape \(B, 20\) or \(20,\)"):
        G.hvp(spec, X, np.ones((2, 19)))
    with pytest.raises(ValueError, match=r"V must be finite"):
        G.hvp(spec, X, np.full((2, 20), np.nan))
    with pytest.raises(ValueError, match=r"V must be non-zero in every row"):
        G.directional_curvature(spec, X, np.stack([np.ones(20), np.zeros(20)]))
    with pytest.raises(ValueError, match=r"V must be non-zero in every row"):
        G.directional_curvature(spec, x, np.zeros(20))
    # wedge indices
    for bad in (3, -1, True, 1.0, "0"):
        with pytest.raises(ValueError, match=r"wedge index must be an integer in \[0, 2\], "
                                             r"got " + repr(bad).replace("(", r"\(")):
            G.project_onto_wedge(spec, bad, x)
        with pytest.raises(ValueError, match=r"wedge index must be an integer in \[0, 2\]"):
            G.intersection(spec, [0, bad])
        with pytest.raises(ValueError, match=r"wedge index must be an integer in \[0, 2\]"):
            G.intersection_point(spec, [bad])
    assert G.project_onto_wedge(spec, np.int64(2), x).shape == (20,)
    with pytest.raises(ValueError, match=r"wedges must be distinct, got \[0, 1, 0\]"):
        G.intersection(spec, [0, 1, 0])
    with pytest.raises(ValueError, match=r"wedges must name at least 1 wedge"):
        G.intersection(spec, [])
    for radius in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match=r"radius must be in \]0, inf\[, got"):
            G.intersection_point(spec, [0], radius=radius)


def test_intersection_needs_shared_anchor(kind):
    spec = random_landscape(20, 3, 4, kind=kind, anchor_scale=0.5, seed=1)
    with pytest.raises(ValueError, match=r"wedges 0 and 2 have different anchors"):
        G.intersection(spec, [0, 2])
    with pytest.raises(ValueError, match=r"different anchors"):
        G.project_onto_intersection(spec, [1, 0], np.ones(20))
    with pytest.raises(ValueError, match=r"different anchors"):
        G.intersection_point(spec, [0, 1, 2])
    # one wedge is fine, and respects its own anchor
    x = G.intersection_point(spec, [2], radius=2.0)
    assert np.linalg.norm(x - spec.wedges[2].anchor) == pytest.approx(2.0, rel=1e-12)
    assert G.wedge_losses(spec, x)[2] <= 1e-20


def test_loss_uses_the_spec_it_is_given():
    """Two landscapes differing only in a tiny anchor shift must give their own losses."""
    dim = 6
    a = np.full(dim, 1.0)
    b = a.copy()
    b[0] += 1e-9
    s1 = LandscapeSpec(wedges=(WedgeSpec(dim=dim, eps0=0.0, eps1=0.0, short_axes=[0],
                                         anchor=a),))
    s2 = LandscapeSpec(wedges=(WedgeSpec(dim=dim, eps0=0.0, eps1=0.0, short_axes=[0],
                                         anchor=b),))
    x = np.zeros(dim)
    assert G.loss(s1, x) == 1.0
    assert G.loss(s2, x) == reference.loss(s2, x[None])[0] == (1.0 + 1e-9) ** 2


# ------------------------------------------------------------------- curvature
def _fd_points(spec, n, seed, h):
    """Gaussian points far from every kink (|u_j| = w, ties of the hard minimum)."""
    X = np.random.default_rng(seed).normal(0.0, 2.0, (n, spec.dim))
    keep = np.ones(n, bool)
    for w in spec.wedges:
        p = reference.wedge_parts(w, X)
        gap = np.abs(np.abs(p["u"]) - p["w"][:, None]).min(axis=1)
        keep &= (gap > 1e3 * h) & (p["r"] > 0.5)
    wl = reference.wedge_losses(spec, X)
    srt = np.sort(wl, axis=1)
    keep &= srt[:, 1] - srt[:, 0] > 1e-2  # no tie of the minimum
    keep &= srt[:, 0] > 0  # clearly outside
    return X[keep]


@pytest.mark.parametrize("union", ["soft", "hard"])
def test_directional_curvature_matches_finite_difference(kind, union):
    spec = random_landscape(24, 3, [4, 6, 3], kind=kind, eps0=0.05, eps1=0.1, union=union,
                            tau=0.5, seed=7)
    h = 1e-4
    X = _fd_points(spec, 60, seed=1, h=h)
    assert X.shape[0] >= 20
    V = np.random.default_rng(2).standard_normal(X.shape)
    curv = G.directional_curvature(spec, X, V)
    Vu = V / np.linalg.norm(V, axis=1, keepdims=True)
    fd = (G.loss(spec, X + h * Vu) - 2 * G.loss(spec, X) + G.loss(spec, X - h * Vu)) / h**2
    np.testing.assert_allclose(curv, fd, rtol=1e-4, atol=1e-4)
    # scale invariance in v, and hvp consistency
    np.testing.assert_allclose(G.directional_curvature(spec, X, 7.5 * V), curv, rtol=1e-12)
    np.testing.assert_allclose(np.sum(G.hvp(spec, X, Vu) * Vu, axis=1), curv, rtol=1e-10,
                               atol=1e-12)
    # a non-trivial test: the curvature is not identically zero
    assert np.max(np.abs(curv)) > 1e-2


# ------------------------------------------------------------------- soft union
def test_soft_union_bounds(kind):
    spec = random_landscape(24, 4, [3, 5, 4, 6], kind=kind, eps0=0.05, eps1=0.1,
                            union="soft", tau=0.7, seed=12)
    rng = np.random.default_rng(8)
    X = np.concatenate([rng.normal(0.0, s, (50, 24)) for s in (0.3, 1.0, 3.0)]
                       + [G.project_onto_wedge(spec, 1, rng.normal(0.0, 2.0, (20, 24)))])
    ev = G.evaluate(spec, X, grad=False)
    lo = ev.wedge_losses.min(axis=1)
    assert np.all(lo <= ev.loss + 1e-12 * (1 + lo))
    assert np.all(ev.loss <= lo + spec.tau * math.log(4) + 1e-12 * (1 + lo))
    tau, logsum = spec.tau, np.log(np.mean(np.exp(-(ev.wedge_losses - lo[:, None]) / spec.tau),
                                           axis=1))
    np.testing.assert_allclose(ev.loss, lo - tau * logsum, rtol=1e-12, atol=1e-14)


def test_soft_union_bound_is_attained():
    """Equal losses give L = min; one zero loss and far others give L -> tau log K."""
    dim, tau = 12, 0.3
    spec = LandscapeSpec(wedges=(
        WedgeSpec(dim=dim, eps0=0.1, eps1=0.0, short_axes=[0]),
        WedgeSpec(dim=dim, eps0=0.1, eps1=0.0, short_axes=[1]),
        WedgeSpec(dim=dim, eps0=0.1, eps1=0.0, short_axes=[2]),
    ), union="soft", tau=tau)
    x = np.zeros(dim)
    x[1] = x[2] = 20.0  # inside wedge 0, loss ~ 395 in the others
    assert G.loss(spec, x) == pytest.approx(tau * math.log(3), rel=1e-12)
    y = np.zeros(dim)
    y[:3] = 2.1  # all three losses equal 4
    assert G.loss(spec, y) == pytest.approx(4.0, rel=1e-12)
    assert G.loss(spec.replace(union="hard"), x) == 0.0
