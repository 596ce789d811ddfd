"""Tests of landsim.subspace: random projections, subspace training and the threshold
dimension (Li et al. 2018); the old landsim.descent names warn and return the same objects."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import landsim
from landsim import descent as De
from landsim import geometry
from landsim import subspace as Su
from landsim.spec import LandscapeSpec

DIM = 30


@pytest.fixture(scope="module")
def easy():
    return landsim.random_landscape(DIM, 2, 4, eps0=0.2, eps1=0.05, seed=4)


# ------------------------------------------------------------------------ old import path
@pytest.mark.parametrize("name", ["PROJECTION_KINDS", "SubspaceResult", "ThresholdResult",
                                  "subspace_projection", "descend_in_subspace",
                                  "threshold_dimension"])
def test_old_descent_names_warn_and_return_the_same_object(name):
    with pytest.warns(DeprecationWarning, match=rf"landsim.descent.{name} moved to "
                                                rf"landsim.subspace.{name}"):
        old = getattr(De, name)
    assert old is getattr(Su, name)
    with pytest.warns(DeprecationWarning):
        exec(f"from landsim.descent import {name} as imported", ns := {})
    assert ns["imported"] is getattr(Su, name)


def test_descent_keeps_its_own_names_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in De.__all__:
            getattr(De, name)
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        De.nonexistent  # noqa: B018


def test_dense_projection_is_the_sign_fixed_qr_of_the_gaussian_draw():
    P = Su.subspace_projection(40, 6, "dense", seed=9)
    G = Su.gaussian_draw(40, 6, np.random.default_rng(9))
    np.testing.assert_array_equal(P, Su.orthonormal_frame(G))
    assert np.all(np.diag(P.T @ G) > 0)


# ------------------------------------------------------------------------ projections
def test_dense_projection_is_orthonormal_and_seeded():
    P = Su.subspace_projection(100, 17, "dense", seed=3)
    assert P.shape == (100, 17)
    np.testing.assert_allclose(P.T @ P, np.eye(17), rtol=0, atol=1e-10)
    np.testing.assert_array_equal(P, Su.subspace_projection(100, 17, seed=3))
    assert not np.array_equal(P, Su.subspace_projection(100, 17, seed=4))
    full = Su.subspace_projection(12, 12, seed=0)
    np.testing.assert_allclose(full @ full.T, np.eye(12), atol=1e-12)


def test_sparse_projection_has_unit_columns_and_density():
    D, d = 2500, 40
    P = Su.subspace_projection(D, d, "sparse", seed=5)
    assert sp.issparse(P) and P.format == "csr" and P.shape == (D, d)
    np.testing.assert_allclose(sp.linalg.norm(P, axis=0), 1.0, rtol=1e-14)
    density = P.nnz / (D * d)
    assert 0.8 / math.sqrt(D) < density < 1.2 / math.sqrt(D)  # expected 1/sqrt(D) = 0.02
    values = np.abs(P.toarray())
    for j in range(d):  # every non-zero of a column has the same magnitude 1/sqrt(nnz)
        col = values[:, j][values[:, j] > 0]
        np.testing.assert_allclose(col, 1.0 / math.sqrt(col.size), rtol=1e-14)
    assert (P != Su.subspace_projection(D, d, "sparse", seed=5)).nnz == 0
    tiny = Su.subspace_projection(4, 4, "sparse", seed=0)  # no empty column even for tiny D
    np.testing.assert_allclose(sp.linalg.norm(tiny, axis=0), 1.0)


@pytest.mark.parametrize("args, match", [
    ((10, 0), r"d must be an integer >= 1, got 0"),
    ((10, 11), r"d must be in \[1, dim=10\], got 11"),
    ((0, 1), r"dim must be an integer >= 1"),
    ((10, 3, "gaussian"), r"kind must be one of \('dense', 'sparse'\)"),
])
def test_subspace_projection_rejects(args, match):
    with pytest.raises(ValueError, match=match):
        Su.subspace_projection(*args)


# ------------------------------------------------------------------------ subspace runs
def test_full_dimensional_subspace_reaches_the_target(easy):
    x0 = De.init_at_radius(DIM, 5.0, 1, seed=12)[0]
    P = Su.subspace_projection(DIM, DIM, seed=1)
    cfg = De.DescentConfig(lr=0.1, steps=2000, target_loss=1e-6)
    res = Su.descend_in_subspace(easy, x0, P, cfg)
    assert res.reached.tolist() == [True] and res.final_loss[0] <= 1e-6
    assert res.subspace_dim == DIM and res.final_z.shape == (1, DIM)
    np.testing.assert_allclose(res.final_x[0], x0 + P @ res.final_z[0], atol=1e-12)
    np.testing.assert_array_equal(res.steps, res.trajectory.steps_taken)
    np.testing.assert_allclose(res.trajectory.distance[-1], np.linalg.norm(res.final_z[0]),
                               rtol=1e-10)


def test_subspace_run_stays_in_the_affine_subspace(easy):
    x0 = De.init_at_radius(DIM, 5.0, 1, seed=13)[0]
    P = Su.subspace_projection(DIM, 3, seed=2)
    res = Su.descend_in_subspace(easy, x0, P, De.DescentConfig(optimizer="adam", steps=50))
    step = res.final_x[0] - x0
    np.testing.assert_allclose(P @ (P.T @ step), step, atol=1e-12)
    assert np.linalg.norm(step) > 0.1


def test_identity_subspace_matches_plain_descent(easy):
    x0 = De.init_at_radius(DIM, 5.0, 3, seed=14)
    cfg = De.DescentConfig(optimizer="momentum", lr=0.02, steps=100, l2=0.01)
    plain = De.descend(easy, x0, cfg)
    sub = Su.descend_in_subspace(easy, x0, np.eye(DIM), cfg)
    np.testing.assert_allclose(sub.final_x, plain.final_x, rtol=0, atol=1e-12)


def test_sparse_shared_and_per_run_projections_agree_with_dense(easy):
    x0 = De.init_at_radius(DIM, 5.0, 3, seed=15)
    Ps = [Su.subspace_projection(DIM, 6, "sparse", seed=s) for s in range(3)]
    cfg = De.DescentConfig(optimizer="adam", lr=0.05, steps=80, record_every=20)
    shared_sparse = Su.descend_in_subspace(easy, x0, Ps[0], cfg)
    shared_dense = Su.descend_in_subspace(easy, x0, Ps[0].toarray(), cfg)
    np.testing.assert_allclose(shared_sparse.final_x, shared_dense.final_x, atol=1e-12)
    per_sparse = Su.descend_in_subspace(easy, x0, Ps, cfg)
    per_dense = Su.descend_in_subspace(easy, x0, np.stack([p.toarray() for p in Ps]), cfg)
    np.testing.assert_allclose(per_sparse.final_x, per_dense.final_x, atol=1e-12)
    for b in range(3):
        one = Su.descend_in_subspace(easy, x0[b], Ps[b].toarray(), cfg)
        np.testing.assert_allclose(one.final_x[0], per_dense.final_x[b], atol=1e-12)
        np.testing.assert_allclose(one.final_z[0], per_sparse.final_z[b], atol=1e-12)


def test_n_runs_share_start_and_projection_and_differ_by_noise(easy):
    x0 = De.init_at_radius(DIM, 5.0, 1, seed=16)[0]
    P = Su.subspace_projection(DIM, 5, seed=3)
    cfg = De.DescentConfig(optimizer="sgd", lr=0.05, steps=30, noise_std=0.3)
    res = Su.descend_in_subspace(easy, x0, P, cfg, seed=1, n_runs=4)
    assert res.final_x.shape == (4, DIM)
    assert len({tuple(row) for row in res.final_z.round(12)}) == 4
    again = Su.descend_in_subspace(easy, x0, P, cfg, seed=1, n_runs=4)
    assert np.array_equal(res.final_x, again.final_x)


def test_descend_in_subspace_rejects(easy):
    x0, P = np.zeros(DIM), Su.subspace_projection(DIM, 4, seed=0)
    with pytest.raises(ValueError, match=r"P must have shape \(D=30, d\)"):
        Su.descend_in_subspace(easy, x0, P[:-1])
    with pytest.raises(ValueError, match="P must be finite"):
        Su.descend_in_subspace(easy, x0, np.full((DIM, 2), np.nan))
    with pytest.raises(ValueError, match="P must be a real matrix"):
        Su.descend_in_subspace(easy, x0, np.full((DIM, 2), "a"))
    with pytest.raises(ValueError, match=r"P must be a \(D, d\) matrix"):
        Su.descend_in_subspace(easy, x0, [])
    with pytest.raises(ValueError, match="all P matrices must have the same d"):
        Su.descend_in_subspace(easy, x0, [P, P[:, :2]])
    with pytest.raises(ValueError, match="all dense or all sparse"):
        Su.descend_in_subspace(easy, x0, [P, sp.csr_matrix(P)])
    with pytest.raises(ValueError, match=r"P\[1\] must have shape"):
        Su.descend_in_subspace(easy, x0, [P, P.T])
    with pytest.raises(ValueError, match="imply different numbers of runs"):
        Su.descend_in_subspace(easy, np.zeros((3, DIM)), [P, P])
    with pytest.raises(ValueError, match="imply different numbers of runs"):
        Su.descend_in_subspace(easy, np.zeros((3, DIM)), P, n_runs=2)
    with pytest.raises(ValueError, match="n_runs must be an integer >= 1"):
        Su.descend_in_subspace(easy, x0, P, n_runs=0)


# ------------------------------------------------------------------------ threshold
# The radial escape (docs/model.md, section 2). One axis wedge in D = 200 with s = 40 short axes,
# eps0 tiny, starts at radius 10. The critical slope is sqrt(2 log s / n) = 0.215 (n = 160).
TD, TS = 200, 40
TCFG = De.DescentConfig(optimizer="adam", lr=0.1, steps=300, target_loss=1e-3,
                        record_every=100)
NARROW_DIMS = [8, 16, 24, 32, 40, 48, 56, 64, 80]
ESCAPE_DIMS = [1, 2, 4, 8, 12, 16, 24, 32]


def wedge_spec(eps1: float) -> LandscapeSpec:
    return landsim.random_landscape(TD, 1, TS, eps0=1e-6, eps1=eps1, seed=3)


@pytest.fixture(scope="module")
def narrow():
    return Su.threshold_dimension(wedge_spec(0.005), NARROW_DIMS, TCFG, n_seeds=10,
                                  radius=10.0, seed=0)


def test_threshold_in_the_narrow_regime_is_about_s(narrow):
    # eps1 = 0.005 << 0.215: a d < s subspace cannot cancel all s short coordinates and the
    # width barely helps, so the threshold is close to s. Measured: 44 to 56 over 4
    # landscapes x 2 seeds (Adam, 300 steps; d = s itself is ill-conditioned, P_I square).
    assert narrow.threshold is not None
    assert 0.75 * TS <= narrow.threshold <= 2 * TS
    rates = narrow.success_rates
    assert rates.shape == (len(NARROW_DIMS),) and narrow.reached.shape == (len(NARROW_DIMS), 10)
    assert rates[0] == 0.0 and rates[-1] == 1.0
    assert np.all(np.diff(rates) >= -0.2)  # non-decreasing up to seed noise
    np.testing.assert_array_equal(rates, narrow.reached.mean(axis=1))
    assert np.all(narrow.final_loss[narrow.reached] <= TCFG.target_loss)
    assert narrow.required_rate == 0.9 and narrow.n_seeds == 10


def test_radial_escape_lowers_the_threshold_far_below_s(narrow):
    # eps1 = 0.1, half the critical slope: almost no random start is inside the wedge
    # (0.05 % measured), yet moving outward lets a small subspace reach it.
    # Measured threshold: 8 to 12 over the same 4 landscapes x 2 seeds.
    spec = wedge_spec(0.1)
    starts = De.init_at_radius(TD, 10.0, 500, seed=5)
    assert np.mean(geometry.loss(spec, starts) <= TCFG.target_loss) < 0.02
    escape = Su.threshold_dimension(spec, ESCAPE_DIMS, TCFG, n_seeds=10, radius=10.0, seed=0)
    assert escape.threshold is not None
    assert escape.threshold <= TS / 2
    assert 3 * escape.threshold <= narrow.threshold
    # eps1 = 0.5 >> 0.215: random starts already lie inside; the smallest d succeeds
    wide = Su.threshold_dimension(wedge_spec(0.5), [1, 2], TCFG, n_seeds=10, radius=10.0)
    assert wide.threshold == 1 and wide.threshold < narrow.threshold / 10


def test_threshold_is_none_when_no_dimension_suffices_and_sparse_works():
    spec = wedge_spec(0.005)
    res = Su.threshold_dimension(spec, [2, 4], TCFG.replace(steps=50), n_seeds=3,
                                 radius=10.0, kind="sparse")
    assert res.threshold is None and np.all(res.success_rates == 0.0)
    res = Su.threshold_dimension(spec, [TD], TCFG.replace(steps=50, lr=0.5), n_seeds=2,
                                 radius=10.0, kind="sparse", success_rate=0.5)
    assert res.threshold == TD


def test_threshold_dimension_is_reproducible():
    spec = wedge_spec(0.1)
    cfg = TCFG.replace(steps=60, noise_std=0.01)
    a = Su.threshold_dimension(spec, [4, 8], cfg, n_seeds=4, radius=10.0, seed=7)
    b = Su.threshold_dimension(spec, [4, 8], cfg, n_seeds=4, radius=10.0, seed=7)
    assert np.array_equal(a.final_loss, b.final_loss) and a.threshold == b.threshold


@pytest.mark.parametrize("kwargs, match", [
    (dict(config=De.DescentConfig()), r"needs config.target_loss"),
    (dict(dims=[4, 4]), r"dims must be strictly increasing, got \[4, 4\]"),
    (dict(dims=[8, 4]), r"dims must be strictly increasing"),
    (dict(dims=[0, 4]), r"dims must lie in \[1, dim=200\]"),
    (dict(dims=[4, 201]), r"dims must lie in \[1, dim=200\]"),
    (dict(dims=[]), r"dims must be a non-empty 1-D sequence of integers"),
    (dict(dims=[1.5]), r"dims must be a non-empty 1-D sequence of integers"),
    (dict(n_seeds=0), r"n_seeds must be an integer >= 1, got 0"),
    (dict(radius=0.0), r"radius must be in \]0, inf\["),
    (dict(success_rate=0.0), r"success_rate must be in \]0, 1\], got 0.0"),
    (dict(success_rate=1.5), r"success_rate must be in \]0, 1\]"),
    (dict(kind="haar"), r"kind must be one of \('dense', 'sparse'\)"),
    (dict(config="adam"), r"config must be a DescentConfig"),
])
def test_threshold_dimension_rejects(kwargs, match):
    args = dict(spec=wedge_spec(0.1), dims=[4, 8], config=TCFG, n_seeds=2, radius=10.0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        Su.threshold_dimension(**args)
