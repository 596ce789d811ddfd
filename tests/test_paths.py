"""Tests of landsim.paths (paths, simplices, barriers) and landsim.sections (sections)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import landsim
from landsim import geometry
from landsim import paths as P
from landsim import sections as S

DIM = 40


@pytest.fixture(scope="module")
def spec():
    return landsim.random_landscape(DIM, 3, 6, eps0=0.1, eps1=0.05, seed=11)


@pytest.fixture(scope="module")
def rotated_spec():
    return landsim.random_landscape(DIM, 3, 6, kind="rotated", eps0=0.1, eps1=0.05, seed=12)


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


# ------------------------------------------------------------------------ paths
def test_as_t_int_and_array():
    t = P.as_t(5)
    np.testing.assert_array_equal(t, [0.0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(P.as_t([0, 0.3, 1]), [0.0, 0.3, 1.0])
    assert P.as_t(np.int64(2)).tolist() == [0.0, 1.0]


def test_line_endpoints_exact_and_midpoint(rng):
    a, b = rng.standard_normal(DIM) * 3, rng.standard_normal(DIM) * 7
    pts = P.line(a, b, np.array([0.0, 0.5, 1.0]))
    assert pts.shape == (3, DIM)
    np.testing.assert_array_equal(pts[0], a)
    np.testing.assert_array_equal(pts[-1], b)
    np.testing.assert_allclose(pts[1], (a + b) / 2, rtol=0, atol=1e-14)
    pts = P.line(a, b, 11)
    np.testing.assert_array_equal(pts[0], a)
    np.testing.assert_array_equal(pts[-1], b)
    # evenly spaced: all steps are equal
    steps = np.diff(pts, axis=0)
    np.testing.assert_allclose(steps, np.broadcast_to((b - a) / 10, steps.shape), atol=1e-13)


def test_chain_passes_through_vertices(rng):
    pts = rng.standard_normal((5, DIM))
    knots = P.chain_knots(pts)
    assert knots[0] == 0.0 and knots[-1] == 1.0
    assert np.all(np.diff(knots) > 0)
    out = P.chain(pts, knots)
    np.testing.assert_array_equal(out, pts)
    # a uniform t gives equal steps within each segment and hits both ends
    out = P.chain(pts, 7)
    np.testing.assert_array_equal(out[0], pts[0])
    np.testing.assert_array_equal(out[-1], pts[-1])


def test_chain_is_parametrised_by_arc_length():
    # segments of lengths 1 and 3: a quarter of the way is the middle vertex
    pts = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 3.0]])
    np.testing.assert_array_equal(P.chain_knots(pts), [0.0, 0.25, 1.0])
    out = P.chain(pts, [0.0, 0.125, 0.25, 0.5, 1.0])
    np.testing.assert_allclose(out, [[0, 0], [0.5, 0], [1, 0], [1, 1], [1, 3]], atol=1e-15)
    # distance travelled along the chain is proportional to t
    t = np.linspace(0, 1, 41)
    seg = np.linalg.norm(np.diff(P.chain(pts, t), axis=0), axis=1)
    np.testing.assert_allclose(seg, 4.0 / 40, atol=1e-12)


def test_chain_with_repeated_vertex():
    pts = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    knots = P.chain_knots(pts)
    np.testing.assert_array_equal(knots, [0.0, 0.5, 0.5, 1.0])
    out = P.chain(pts, [0.0, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(out, [[0, 0], [1, 0], [1, 0.5], [1, 1]], atol=1e-15)
    last_repeat = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_array_equal(P.chain(last_repeat, [1.0]), [[1.0, 0.0]])


def test_bezier_endpoints_and_straight_control(rng):
    a, b, c = (rng.standard_normal(DIM) for _ in range(3))
    t = np.linspace(0, 1, 33)
    curve = P.bezier(a, c, b, t)
    np.testing.assert_array_equal(curve[0], a)
    np.testing.assert_array_equal(curve[-1], b)
    np.testing.assert_allclose(P.bezier(a, (a + b) / 2, b, t), P.line(a, b, t), atol=1e-14)


def test_bezier_control_weights_are_the_derivative(rng):
    a, b, c, e = (rng.standard_normal(DIM) for _ in range(4))
    t = np.linspace(0, 1, 17)
    w = P.bezier_control_weights(t)
    np.testing.assert_allclose(w, 2 * t * (1 - t))
    assert w[0] == 0 and w[-1] == 0 and w.max() == pytest.approx(0.5)
    diff = P.bezier(a, c + e, b, t) - P.bezier(a, c, b, t)
    np.testing.assert_allclose(diff, w[:, None] * e, atol=1e-13)
    curve = P.bezier(a, c, b, [0.5])[0]
    np.testing.assert_allclose(curve, 0.25 * a + 0.5 * c + 0.25 * b, atol=1e-14)


# ------------------------------------------------------------------------ simplices
@pytest.mark.parametrize("m,res", [(1, 1), (1, 4), (2, 1), (2, 7), (3, 5), (4, 6), (6, 3)])
def test_simplex_grid(m, res):
    w = P.simplex_grid(m, res)
    assert w.shape == (math.comb(res + m - 1, m - 1), m)
    assert np.all(w >= 0)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-14)
    # on the grid, pairwise distinct, and every vertex is present exactly
    k = w * res
    np.testing.assert_allclose(k, np.round(k), atol=1e-12)
    assert np.unique(np.round(k), axis=0).shape[0] == w.shape[0]
    for i in range(m):
        assert np.any(np.all(w == np.eye(m)[i], axis=1))


def test_simplex_dirichlet():
    w = P.simplex_dirichlet(4, 20000, seed=5)
    assert w.shape == (20000, 4)
    assert np.all(w >= 0)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-14)
    np.testing.assert_array_equal(w, P.simplex_dirichlet(4, 20000, seed=5))
    assert not np.array_equal(w, P.simplex_dirichlet(4, 20000, seed=6))
    # Dirichlet(1): each weight has mean 1/m and marginal Beta(1, m-1), P(w > 1/2) = 2^-(m-1)
    np.testing.assert_allclose(w.mean(axis=0), 0.25, atol=0.01)
    np.testing.assert_allclose((w > 0.5).mean(axis=0), 0.125, atol=0.01)


def test_simplex_points(rng):
    v = rng.standard_normal((3, DIM))
    np.testing.assert_array_equal(P.simplex_points(v, np.eye(3)), v)
    np.testing.assert_allclose(P.simplex_points(v, np.full((1, 3), 1 / 3))[0], v.mean(axis=0),
                               atol=1e-14)
    w = P.simplex_grid(3, 4)
    np.testing.assert_allclose(P.simplex_points(v, w), w @ v)


@pytest.mark.parametrize("m", [2, 3, 5])
def test_simplex_tunnel_points(rng, m):
    v = rng.standard_normal((m, DIM))
    c = rng.standard_normal(DIM) * 4
    w = np.concatenate([P.simplex_grid(m, 6), P.simplex_dirichlet(m, 200, seed=m)])
    x = P.simplex_tunnel_points(v, c, w)
    assert x.shape == (w.shape[0], DIM)
    # each vertex exactly
    np.testing.assert_array_equal(P.simplex_tunnel_points(v, c, np.eye(m)), v)
    # centre = barycentre of the vertices gives the flat simplex
    np.testing.assert_allclose(P.simplex_tunnel_points(v, v.mean(axis=0), w),
                               P.simplex_points(v, w), atol=1e-13)
    # the barycentre of the weights maps to the free centre
    np.testing.assert_allclose(P.simplex_tunnel_points(v, c, np.full((1, m), 1 / m))[0], c,
                               atol=1e-13)
    # the boundary (some weight 0) is the flat simplex's boundary
    edge = w.min(axis=1) == 0
    np.testing.assert_allclose(x[edge], P.simplex_points(v, w[edge]), atol=1e-13)
    # inside a sub-simplex the map is affine with weights (lambda_i - mu, m mu) on (v_i, c)
    j = np.argmin(w, axis=1)
    mu = w.min(axis=1)
    sub = w - mu[:, None]
    expect = sub @ v + (m * mu)[:, None] * c
    np.testing.assert_allclose(x, expect, atol=1e-12)
    assert np.all(sub[np.arange(w.shape[0]), j] == 0)


def test_tunnel_centre_weights_are_the_derivative(rng):
    v = rng.standard_normal((3, DIM))
    c, e = rng.standard_normal(DIM), rng.standard_normal(DIM)
    w = P.simplex_dirichlet(3, 50, seed=1)
    cw = P.tunnel_centre_weights(w)
    np.testing.assert_allclose(cw, 3 * w.min(axis=1))
    diff = P.simplex_tunnel_points(v, c + e, w) - P.simplex_tunnel_points(v, c, w)
    np.testing.assert_allclose(diff, cw[:, None] * e, atol=1e-12)
    assert P.tunnel_centre_weights(np.full((1, 3), 1 / 3))[0] == pytest.approx(1.0)


# ------------------------------------------------------------------------ barriers
def test_barrier_of_a_bump():
    t = np.linspace(0, 1, 101)
    height = 0.7
    losses = 1 + 2 * t + 4 * height * t * (1 - t)
    assert P.barrier(losses, t) == pytest.approx(height, rel=1e-12)
    prof = P.barrier_profile(losses, t)
    assert isinstance(prof, P.PathProfile) and prof.argmax == 50
    assert prof.barrier == P.barrier(losses, t) and prof.excess[50] == prof.barrier
    # an asymmetric bump c t (1 - t)^2 peaks at t = 1/3 with value 4c/27
    t = np.linspace(0, 1, 301)
    losses = 5 - 3 * t + 2.0 * t * (1 - t) ** 2
    assert P.barrier(losses, t) == pytest.approx(8 / 27, rel=1e-9)
    assert P.barrier(losses, 301) == pytest.approx(8 / 27, rel=1e-9)


def test_barrier_of_a_profile_below_its_chord_is_zero():
    t = np.linspace(0, 1, 50)
    assert P.barrier(t**2, t) == 0.0
    assert P.barrier(np.full(50, 3.0), t) == 0.0
    assert P.barrier(np.array([2.0, 5.0]), np.array([0.0, 1.0])) == 0.0


def test_path_barrier_matches_geometry(spec, rng):
    a, b = rng.standard_normal(DIM), rng.standard_normal(DIM)
    t = P.as_t(64)
    prof = P.path_barrier(spec, P.line(a, b, t), t)
    assert isinstance(prof, P.PathProfile)
    direct = geometry.loss(spec, P.line(a, b, t))
    np.testing.assert_array_equal(prof.loss, direct)
    chord = (1 - t) * direct[0] + t * direct[-1]
    assert prof.barrier == pytest.approx(np.max(direct - chord))
    assert prof.excess[prof.argmax] == prof.barrier
    assert prof.barrier >= 0


@pytest.mark.parametrize("kind,eps1", [("axis", 0.0), ("axis", 0.02), ("rotated", 0.0),
                                       ("rotated", 0.02)])
def test_chain_through_intersection_beats_the_line(kind, eps1):
    dim = 60
    spec = landsim.random_landscape(dim, 2, 10, kind=kind, eps0=0.1, eps1=eps1, seed=3)
    rng = np.random.default_rng(1)
    a = geometry.project_onto_wedge(spec, 0, 0.5 * rng.standard_normal(dim))
    b = geometry.project_onto_wedge(spec, 1, 0.5 * rng.standard_normal(dim))
    ends = geometry.wedge_losses(spec, np.stack([a, b]))
    assert np.all(ends[[0, 1], [0, 1]] < 1e-25)  # optima of their own wedges ...
    assert np.all(ends[[0, 1], [1, 0]] > 0.1)  # ... and far outside the other one
    t = P.as_t(401)
    line = P.path_barrier(spec, P.line(a, b, t), t)
    p = geometry.project_onto_intersection(spec, [0, 1], (a + b) / 2)
    assert geometry.loss(spec, p) < 1e-25
    pts = np.stack([a, p, b])
    tc = np.union1d(t, P.chain_knots(pts))
    through = P.path_barrier(spec, P.chain(pts, tc), tc)
    assert line.barrier > 0.05
    assert through.barrier < 1e-3 * line.barrier
    if eps1 == 0:  # slabs are convex: each leg stays inside its wedge
        assert through.barrier < 1e-25
    # a Bezier curve through p at t = 1/2 also beats the line, by a smaller factor
    bez = P.path_barrier(spec, P.bezier(a, 2 * p - (a + b) / 2, b, t), t)
    assert bez.barrier < 0.2 * line.barrier


# ------------------------------------------------------------------------ sections
@pytest.mark.parametrize("which", ["spec", "rotated_spec"])
def test_plane_section_matches_direct_losses(which, request, rng):
    s = request.getfixturevalue(which)
    origin, d1, d2 = (rng.standard_normal(DIM) for _ in range(3))
    sec = S.plane_section(s, origin, d1, d2, extent=2.0, resolution=70)  # 4900 > 4096 points
    assert sec.loss.shape == (70, 70)
    assert sec.alpha[0] == -2.0 and sec.alpha[-1] == 2.0
    np.testing.assert_allclose(np.stack([sec.e1, sec.e2]) @ np.stack([sec.e1, sec.e2]).T,
                               np.eye(2), atol=1e-14)
    np.testing.assert_allclose(sec.e1, d1 / np.linalg.norm(d1))
    for i, j in [(0, 0), (69, 0), (35, 12), (69, 69), (3, 68)]:
        x = origin + sec.alpha[i] * sec.e1 + sec.beta[j] * sec.e2
        assert sec.loss[i, j] == pytest.approx(geometry.loss(s, x), rel=1e-12, abs=1e-15)


def test_plane_section_explicit_grid_without_orthonormalising(spec, rng):
    origin, d1, d2 = (rng.standard_normal(DIM) for _ in range(3))
    alpha, beta = np.array([-1.0, 0.0, 0.5]), np.array([0.0, 2.0])
    sec = S.plane_section(spec, origin, d1, d2, alpha=alpha, beta=beta, orthonormalise=False)
    assert sec.loss.shape == (3, 2)
    np.testing.assert_array_equal(sec.e1, d1)
    X = origin + alpha[:, None, None] * d1 + beta[None, :, None] * d2
    np.testing.assert_allclose(sec.loss, geometry.loss(spec, X.reshape(-1, DIM)).reshape(3, 2),
                               rtol=1e-12, atol=1e-15)
    assert sec.loss[1, 0] == geometry.loss(spec, origin)


def test_radial_section(spec, rng):
    origin, d1, d2 = (rng.standard_normal(DIM) for _ in range(3))
    radii, angles = np.array([0.0, 0.5, 3.0]), np.linspace(0, 2 * np.pi, 13)
    sec = S.radial_section(spec, origin, d1, d2, radii, angles)
    assert sec.loss.shape == (3, 13)
    np.testing.assert_array_equal(sec.loss[0], geometry.loss(spec, origin))
    assert abs(sec.e1 @ sec.e2) < 1e-14
    for i, j in [(1, 0), (2, 5), (2, 12)]:
        x = origin + radii[i] * (np.cos(angles[j]) * sec.e1 + np.sin(angles[j]) * sec.e2)
        assert sec.loss[i, j] == pytest.approx(geometry.loss(spec, x), rel=1e-12, abs=1e-15)
    # radial tunnel: along a ray inside the intersection of wedge 0's long directions
    # the loss stays 0 at every radius
    u = geometry.intersection_point(spec, [0], radius=1.0, seed=0)
    ray = S.radial_section(spec, np.zeros(DIM), u, d2, np.linspace(0, 50, 11), [0.0])
    np.testing.assert_array_equal(ray.loss[:, 0], 0.0)


def test_random_plane(rng):
    e1, e2 = S.random_plane(DIM, seed=4)
    G = np.stack([e1, e2])
    np.testing.assert_allclose(G @ G.T, np.eye(2), atol=1e-14)
    f1, f2 = S.random_plane(DIM, seed=4)
    np.testing.assert_array_equal(e1, f1)
    np.testing.assert_array_equal(e2, f2)
    assert not np.array_equal(e1, S.random_plane(DIM, seed=5)[0])
    v = rng.standard_normal(DIM) * 9
    c1, c2 = S.random_plane(DIM, seed=4, containing=v)
    np.testing.assert_allclose(c1, v / np.linalg.norm(v), rtol=0, atol=1e-15)
    assert abs(c1 @ c2) < 1e-14 and np.linalg.norm(c2) == pytest.approx(1.0, abs=1e-14)
    g1, g2 = S.random_plane(2, seed=np.random.default_rng(0))
    assert abs(g1 @ g2) < 1e-14


# ------------------------------------------------------------------------ errors
_V = np.zeros(3)
_V1 = np.ones(3)


@pytest.mark.parametrize("call,match", [
    (lambda: P.as_t(1), r"t \(number of samples\) must be an integer >= 2, got 1"),
    (lambda: P.as_t(True), r"t must be 1-D, got shape \(\)"),
    (lambda: P.as_t([0.0, 1.5]), r"t must lie in \[0, 1\], got 1.5"),
    (lambda: P.as_t([-0.1, 1.0]), r"t must lie in \[0, 1\], got -0.1"),
    (lambda: P.as_t([[0.0, 1.0]]), r"t must be 1-D, got shape \(1, 2\)"),
    (lambda: P.as_t([]), r"t must not be empty, got shape \(0,\)"),
    (lambda: P.as_t([0.0, np.nan]), "t must be finite"),
    (lambda: P.as_t(["a"]), "t must be a real array, got dtype <U1"),
    (lambda: P.line(_V, np.zeros(4), 3), r"a and b must have the same shape, got \(3,\) and "
                                         r"\(4,\)"),
    (lambda: P.line(np.zeros((2, 3)), _V, 3), r"a must be 1-D, got shape \(2, 3\)"),
    (lambda: P.line(_V, [np.inf, 0, 0], 3), "b must be finite"),
    (lambda: P.chain(np.zeros((1, 3)), 3), r"points must have shape \(P, D\) with P >= 2, "
                                           r"got \(1, 3\)"),
    (lambda: P.chain(np.zeros((3, 3)), 3), "points must not all coincide"),
    (lambda: P.chain_knots(_V), r"points must be 2-D, got shape \(3,\)"),
    (lambda: P.bezier(_V, np.zeros(2), _V1, 3), r"a and control must have the same shape, "
                                                r"got \(3,\) and \(2,\)"),
    (lambda: P.bezier_control_weights([2.0]), r"t must lie in \[0, 1\], got 2.0"),
    (lambda: P.simplex_grid(0, 3), "m must be an integer >= 1, got 0"),
    (lambda: P.simplex_grid(3, 0), "resolution must be an integer >= 1, got 0"),
    (lambda: P.simplex_grid(3, 2.0), "resolution must be an integer >= 1, got 2.0"),
    (lambda: P.simplex_grid(20, 100), "would have .* points; at most 10000000"),
    (lambda: P.simplex_dirichlet(3, 0), "n must be an integer >= 1, got 0"),
    (lambda: P.simplex_dirichlet(False, 2), "m must be an integer >= 1, got False"),
    (lambda: P.simplex_dirichlet(3, 2, seed=-1),
     r"seed must be None, an integer in \[0, 9223372036854775807\]"),
    (lambda: P.simplex_dirichlet(3, 2, seed="x"), "seed must be None"),
    (lambda: P.simplex_points(np.zeros((3, 4)), np.ones((2, 2)) / 2),
     r"weights must have shape \(N, 3\) to match vertices of shape \(3, 4\), got \(2, 2\)"),
    (lambda: P.simplex_points(np.zeros((2, 4)), [[1.5, -0.5]]),
     "weights must be non-negative, got -0.5"),
    (lambda: P.simplex_points(np.zeros((2, 4)), [[1.0, 0.0], [0.5, 0.6]]),
     r"weights rows must sum to 1 \(within 1e-09\), got row 1 summing to 1.1"),
    (lambda: P.simplex_points(np.zeros((0, 4)), [[1.0]]), r"vertices must not be empty"),
    (lambda: P.simplex_tunnel_points(np.zeros((1, 4)), np.zeros(4), [[1.0]]),
     r"vertices must have shape \(m, D\) with m >= 2, got \(1, 4\)"),
    (lambda: P.simplex_tunnel_points(np.zeros((2, 4)), np.zeros(3), [[1.0, 0.0]]),
     r"centre must have shape \(4,\), got \(3,\)"),
    (lambda: P.tunnel_centre_weights([[1.0]]),
     r"weights must have shape \(N, m\) with m >= 2, got \(1, 1\)"),
    (lambda: P.barrier([1.0, 2.0], [0.0, 0.5, 1.0]),
     r"losses and t must have the same shape, got \(2,\) and \(3,\)"),
    (lambda: P.barrier([1.0, 2.0], [0.1, 1.0]), r"t must run from t\[0\] = 0 to t\[-1\] = 1"),
    (lambda: P.barrier([1.0, 2.0], [0.0, 0.9]), r"t must run from t\[0\] = 0 to t\[-1\] = 1"),
    (lambda: P.barrier([1.0], [0.0]), "with at least 2 values, got 1 values"),
    (lambda: P.barrier([1.0, np.nan], [0.0, 1.0]), "losses must be finite"),
])
def test_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_value_errors_with_a_landscape(spec):
    o = np.zeros(DIM)
    e = np.eye(DIM)
    cases = [
        (lambda: P.path_barrier("spec", np.zeros((2, DIM)), 2),
         "spec must be a LandscapeSpec, got str"),
        (lambda: P.path_barrier(spec, np.zeros((3, DIM - 1)), 3),
         rf"points must have shape \(T, D\) = \(3, {DIM}\) to match t of shape \(3,\) and the "
         rf"landscape's dim, got \(3, {DIM - 1}\)"),
        (lambda: P.path_barrier(spec, np.zeros((3, DIM)), 4),
         rf"points must have shape \(T, D\) = \(4, {DIM}\)"),
        (lambda: S.plane_section(spec, np.zeros(DIM + 1), e[0], e[1]),
         rf"origin must have shape \({DIM},\), got \({DIM + 1},\)"),
        (lambda: S.plane_section(spec, o, o, e[1]), "d1 must be non-zero"),
        (lambda: S.plane_section(spec, o, e[0], o, orthonormalise=False),
         "d2 must be non-zero"),
        (lambda: S.plane_section(spec, o, e[0], 3 * e[0]),
         r"d2 must not be parallel to d1: its orthogonal part has relative norm 0, "
         r"need > 1e-10"),
        (lambda: S.plane_section(spec, o, e[0], e[1], extent=0.0),
         r"extent must be in \]0, inf\[, got 0.0"),
        (lambda: S.plane_section(spec, o, e[0], e[1], extent="big"),
         r"extent must be a real number in \]0, inf\[, got 'big'"),
        (lambda: S.plane_section(spec, o, e[0], e[1], resolution=1),
         "resolution must be an integer >= 2, got 1"),
        (lambda: S.plane_section(spec, o, e[0], e[1], alpha=[0.0]),
         "give both alpha and beta, or neither"),
        (lambda: S.plane_section(spec, o, e[0], e[1], alpha=[0.0], beta=[[1.0]]),
         r"beta must be 1-D, got shape \(1, 1\)"),
        (lambda: S.radial_section(spec, o, e[0], e[1], [-1.0, 1.0], [0.0]),
         r"radii must lie in \[0, inf\[, got -1.0"),
        (lambda: S.radial_section(spec, o, e[0], e[1], [1.0], []),
         r"angles must not be empty, got shape \(0,\)"),
        (lambda: S.random_plane(1), "dim must be an integer >= 2, got 1"),
        (lambda: S.random_plane(DIM, containing=np.ones(3)),
         rf"containing must have shape \({DIM},\), got \(3,\)"),
        (lambda: S.random_plane(DIM, containing=o), "containing must be non-zero"),
    ]
    for call, match in cases:
        with pytest.raises(ValueError, match=match):
            call()
