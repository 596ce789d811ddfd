"""Tests of landsim.descent: optimisers, trajectories and random-subspace training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

import landsim
from landsim import descent as De
from landsim import geometry
from landsim.spec import LandscapeSpec, WedgeSpec

DIM = 30
SHORT = np.array([0, 3, 7, 12, 20])


def slab(eps0: float = 0.5, eps1: float = 0.0) -> LandscapeSpec:
    """One axis wedge of D = 30 with short axes SHORT (a slab when eps1 = 0)."""
    return LandscapeSpec(wedges=(WedgeSpec(dim=DIM, eps0=eps0, eps1=eps1, short_axes=SHORT),))


def outside_point(seed: int = 0, n: int = 1) -> np.ndarray:
    """Points (n, D) whose short coordinates are +-3 (outside the slab)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, DIM))
    X[:, SHORT] = 3.0 * rng.choice([-1.0, 1.0], size=(n, SHORT.size))
    return X


@pytest.fixture(scope="module")
def easy():
    return landsim.random_landscape(DIM, 2, 4, eps0=0.2, eps1=0.05, seed=4)


# ------------------------------------------------------------------------ config
def test_config_defaults_and_replace():
    cfg = De.DescentConfig()
    assert (cfg.optimizer, cfg.lr, cfg.steps, cfg.noise_std) == ("gd", 0.1, 1000, 0.0)
    assert cfg.betas == (0.9, 0.999) and cfg.target_loss is None and cfg.record_every == 10
    new = cfg.replace(lr=0.5, betas=[0.8, 0.99])
    assert new.lr == 0.5 and new.betas == (0.8, 0.99) and cfg.lr == 0.1
    assert isinstance(new.betas, tuple)
    with pytest.raises(ValueError, match="unknown fields"):
        cfg.replace(learning_rate=1.0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(optimizer="rmsprop"), r"optimizer must be one of \('gd', 'sgd', 'momentum', 'adam'\)"),
    (dict(lr=-1.0), r"lr must be in \]0, inf\[, got -1.0"),
    (dict(lr=0.0), r"lr must be in \]0, inf\["),
    (dict(lr=math.inf), r"lr must be in \]0, inf\["),
    (dict(lr="0.1"), r"lr must be a real number in \]0, inf\[, got '0.1'"),
    (dict(steps=0), r"steps must be an integer >= 1, got 0"),
    (dict(steps=10.0), r"steps must be an integer >= 1"),
    (dict(noise_std=-0.1), r"noise_std must be in \[0, inf\[, got -0.1"),
    (dict(momentum=1.0), r"momentum must be in \[0, 1\[, got 1.0"),
    (dict(betas=(0.9,)), r"betas must be a pair"),
    (dict(betas=(0.9, 1.0)), r"betas\[1\] must be in \[0, 1\["),
    (dict(betas=(-0.1, 0.9)), r"betas\[0\] must be in \[0, 1\["),
    (dict(eps=0.0), r"eps must be in \]0, inf\["),
    (dict(l2=-1e-3), r"l2 must be in \[0, inf\["),
    (dict(l2=math.nan), r"l2 must be in \[0, inf\["),
    (dict(target_loss=-1.0), r"target_loss must be in \[0, inf\["),
    (dict(record_every=0), r"record_every must be an integer >= 1, got 0"),
    (dict(record_every=True), r"record_every must be an integer >= 1"),
])
def test_config_rejects(kwargs, match):
    with pytest.raises(ValueError, match=match):
        De.DescentConfig(**kwargs)


# ------------------------------------------------------------------------ descent
def test_gd_on_a_slab_reaches_zero_loss_and_keeps_long_coordinates():
    spec, x0 = slab(), outside_point()
    assert geometry.loss(spec, x0)[0] > 10
    traj = De.descend(spec, x0, De.DescentConfig(lr=0.1, steps=300))
    assert traj.final_loss[0] < 1e-20
    assert np.all(np.abs(traj.final_x[0, SHORT]) <= 0.5 + 1e-9)
    long = np.setdiff1d(np.arange(DIM), SHORT)
    # eps1 = 0: the gradient has no long component, so long coordinates never move
    np.testing.assert_array_equal(traj.final_x[0, long], x0[0, long])
    assert traj.steps_taken[0] == 300 and not traj.reached[0] and traj.reached_step[0] == -1


def test_gd_loss_is_non_increasing_with_a_small_lr():
    spec = slab(eps0=0.3, eps1=0.05)  # one wedge: the loss is C^1 with Lipschitz gradient
    x0 = outside_point(1, n=3)
    traj = De.descend(spec, x0, De.DescentConfig(lr=0.02, steps=200, record_every=1))
    assert traj.loss.shape == (201, 3)
    assert np.all(np.diff(traj.loss, axis=0) <= 1e-12)
    assert np.all(traj.loss[-1] < 1e-3 * traj.loss[0])


def test_l2_step_inside_a_wedge_scales_x():
    spec = slab()
    x = np.random.default_rng(2).standard_normal(DIM)
    x[SHORT] = 0.1  # inside: zero landscape loss and gradient
    assert geometry.loss(spec, x) == 0.0
    lr, l2 = 0.1, 0.3
    traj = De.descend(spec, x, De.DescentConfig(lr=lr, steps=1, l2=l2))
    np.testing.assert_allclose(traj.final_x[0], (1 - lr * l2) * x, rtol=1e-15, atol=0)
    np.testing.assert_allclose(traj.radius[-1, 0], (1 - lr * l2) * np.linalg.norm(x),
                               rtol=1e-14)


def test_l2_step_outside_adds_lambda_x_to_the_gradient(easy):
    x = De.init_at_radius(DIM, 4.0, 2, seed=3)
    lr, l2 = 0.05, 0.7
    _, g = geometry.loss_and_grad(easy, x)
    traj = De.descend(easy, x, De.DescentConfig(lr=lr, steps=1, l2=l2))
    np.testing.assert_allclose(traj.final_x, x - lr * (g + l2 * x), rtol=0, atol=1e-14)


def test_adam_first_step_is_lr_times_sign_and_momentum_accumulates():
    spec, x0 = slab(), outside_point(5)
    _, g0 = geometry.loss_and_grad(spec, x0)
    lr = 0.01
    adam = De.descend(spec, x0, De.DescentConfig(optimizer="adam", lr=lr, steps=1))
    np.testing.assert_allclose(adam.final_x, x0 - lr * np.sign(g0), rtol=0, atol=1e-9)
    beta = 0.5
    mom = De.descend(spec, x0, De.DescentConfig(optimizer="momentum", lr=lr, momentum=beta,
                                                steps=2))
    x1 = x0 - lr * g0
    _, g1 = geometry.loss_and_grad(spec, x1)
    np.testing.assert_allclose(mom.final_x, x1 - lr * (beta * g0 + g1), rtol=0, atol=1e-14)


@pytest.mark.parametrize("optimizer, lr", [("gd", 0.1), ("sgd", 0.1), ("momentum", 0.05),
                                           ("adam", 0.05)])
def test_optimizers_reach_the_target_on_an_easy_landscape(easy, optimizer, lr):
    x0 = De.init_at_radius(DIM, 5.0, 6, seed=7)
    target = 1e-6
    assert np.all(geometry.loss(easy, x0) > 1e-3)  # every run starts outside
    noise = 1e-3 if optimizer == "sgd" else 0.0
    cfg = De.DescentConfig(optimizer=optimizer, lr=lr, steps=2000, noise_std=noise,
                           target_loss=target, record_every=50)
    traj = De.descend(easy, x0, cfg, seed=1)
    assert np.all(traj.reached) and np.all(traj.final_loss <= target)
    assert np.all(traj.reached_step > 0) and np.all(traj.reached_step < 2000)
    np.testing.assert_array_equal(traj.steps_taken, traj.reached_step)
    assert traj.step[-1] == traj.reached_step.max()


def test_early_stop_freezes_a_run_and_records_the_last_step(easy):
    x0 = De.init_at_radius(DIM, 5.0, 5, seed=8)
    cfg = De.DescentConfig(lr=0.1, steps=1000, target_loss=1e-4, record_every=7)
    traj = De.descend(easy, x0, cfg)
    assert np.all(traj.reached) and len(set(traj.reached_step.tolist())) > 1
    last = traj.reached_step.max()
    expected = list(range(0, last, 7)) + ([last] if last % 7 else [last])
    assert traj.step.tolist() == sorted(set(expected))
    # a frozen run keeps its point: rerun it for exactly its own number of steps
    b = int(np.argmin(traj.reached_step))
    alone = De.descend(easy, x0[b], cfg.replace(steps=int(traj.reached_step[b]),
                                                target_loss=None))
    np.testing.assert_array_equal(alone.final_x[0], traj.final_x[b])
    # the recorded loss of the frozen run stays at its final value
    after = traj.step >= traj.reached_step[b]
    assert np.all(traj.loss[after, b] == traj.final_loss[b])


def test_trajectory_shapes_and_first_record(easy):
    x0 = De.init_at_radius(DIM, 3.0, 4, seed=9)
    traj = De.descend(easy, x0, De.DescentConfig(steps=25, record_every=10))
    assert traj.step.tolist() == [0, 10, 20, 25]
    assert traj.n_runs == 4 and traj.n_records == 4
    for name in ("loss", "radius", "distance", "argmin"):
        assert getattr(traj, name).shape == (4, 4)
        assert not getattr(traj, name).flags.writeable
    assert traj.final_x.shape == (4, DIM) and traj.argmin.dtype == np.int64
    np.testing.assert_allclose(traj.radius[0], 3.0, rtol=1e-14)
    np.testing.assert_array_equal(traj.distance[0], 0.0)
    np.testing.assert_array_equal(traj.loss[0], geometry.loss(easy, x0))
    np.testing.assert_array_equal(traj.argmin[-1], geometry.argmin_wedge(easy, traj.final_x))
    np.testing.assert_allclose(traj.distance[-1], np.linalg.norm(traj.final_x - x0, axis=1))
    with pytest.raises(AttributeError):
        traj.loss = None


def test_same_seed_is_bit_identical_and_other_seed_differs(easy):
    x0 = De.init_at_radius(DIM, 4.0, 3, seed=10)
    cfg = De.DescentConfig(optimizer="sgd", lr=0.05, steps=60, noise_std=0.5, record_every=5)
    a, b = De.descend(easy, x0, cfg, seed=42), De.descend(easy, x0, cfg, seed=42)
    c = De.descend(easy, x0, cfg, seed=43)
    for name in ("step", "loss", "radius", "distance", "argmin", "final_x", "final_loss",
                 "steps_taken", "reached", "reached_step"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert not np.array_equal(a.final_x, c.final_x)
    assert not np.array_equal(a.loss[1:], c.loss[1:])


def test_batch_equals_runs_one_by_one(easy):
    x0 = De.init_at_radius(DIM, 5.0, 4, seed=11)
    for opt in ("gd", "adam"):
        cfg = De.DescentConfig(optimizer=opt, lr=0.05, steps=400, target_loss=1e-5)
        batch = De.descend(easy, x0, cfg)
        for b in range(4):
            one = De.descend(easy, x0[b], cfg)
            np.testing.assert_allclose(one.final_x[0], batch.final_x[b], rtol=0, atol=1e-12)
            assert one.reached_step[0] == batch.reached_step[b]
            np.testing.assert_allclose(one.loss[:, 0], batch.loss[: one.n_records, b],
                                       rtol=0, atol=1e-12)


def test_descend_rejects(easy):
    with pytest.raises(ValueError, match="spec must be a LandscapeSpec"):
        De.descend("spec", np.zeros(DIM))
    with pytest.raises(ValueError, match=r"x0 must have shape \(B, 30\) or \(30,\)"):
        De.descend(easy, np.zeros(DIM + 1))
    with pytest.raises(ValueError, match="x0 must be finite"):
        De.descend(easy, np.full(DIM, np.nan))
    with pytest.raises(ValueError, match="config must be a DescentConfig"):
        De.descend(easy, np.zeros(DIM), {"lr": 0.1})
    with pytest.raises(ValueError, match=r"seed must be None, an integer in \[0, inf\["):
        De.descend(easy, np.zeros(DIM), seed=-1)


def test_callback_sees_the_trajectory_losses_and_can_stop_the_run(easy):
    x0 = De.init_at_radius(DIM, 4.0, 3, seed=12)
    cfg = De.DescentConfig(optimizer="sgd", lr=0.05, steps=53, noise_std=0.3, record_every=5)
    plain = De.descend(easy, x0, cfg, seed=7)
    seen, records = {}, []

    def callback(step, losses):
        assert losses.shape == (3,) and losses.dtype == np.float64
        seen[step] = losses

    traj = De.descend(easy, x0, cfg, seed=7, callback=callback, callback_every=5,
                      on_record=lambda *row: records.append(row))
    assert sorted(seen) == traj.step.tolist() == list(range(0, 51, 5)) + [53]
    for i, step in enumerate(traj.step):
        np.testing.assert_array_equal(seen[int(step)], traj.loss[i])  # same values
        for j, name in enumerate(("step", "loss", "radius", "distance", "argmin")):
            np.testing.assert_array_equal(records[i][j], getattr(traj, name)[i])
    for name in ("step", "loss", "radius", "distance", "argmin", "final_x", "final_loss",
                 "steps_taken", "reached", "reached_step"):  # callbacks change nothing
        assert np.array_equal(getattr(traj, name), getattr(plain, name)), name
    every = []
    De.descend(easy, x0, cfg, seed=7, callback=lambda t, loss: every.append(t))
    assert every == list(range(54))  # callback_every = 1: every step

    # returning False stops the run at that step, recorded, as if steps were that step
    stopped = De.descend(easy, x0, cfg, seed=7, callback=lambda t, loss: t < 12)
    short = De.descend(easy, x0, cfg.replace(steps=12), seed=7)
    assert stopped.step.tolist() == [0, 5, 10, 12] and stopped.steps_taken.tolist() == [12] * 3
    np.testing.assert_array_equal(stopped.final_x, short.final_x)
    np.testing.assert_array_equal(stopped.loss, short.loss)
    at_record = De.descend(easy, x0, cfg, seed=7, on_record=lambda step, *_: step < 10)
    assert at_record.step.tolist() == [0, 5, 10]
    assert De.descend(easy, x0, cfg, callback=lambda t, loss: False).step.tolist() == [0]
    with pytest.raises(ValueError, match="callback_every must be"):
        De.descend(easy, x0, cfg, callback=print, callback_every=0)
    with pytest.raises(ValueError, match="callback must be callable"):
        De.descend(easy, x0, cfg, callback=3)


# ------------------------------------------------------------------------ starts
def test_init_at_radius_norms_and_centre():
    X = De.init_at_radius(50, 7.5, 20, seed=1)
    assert X.shape == (20, 50)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 7.5, rtol=1e-14)
    centre = np.arange(50.0)
    Y = De.init_at_radius(50, 2.0, 5, seed=1, centre=centre)
    np.testing.assert_allclose(np.linalg.norm(Y - centre, axis=1), 2.0, rtol=1e-13)
    np.testing.assert_array_equal(De.init_at_radius(50, 7.5, 20, seed=1), X)
    assert not np.array_equal(De.init_at_radius(50, 7.5, 20, seed=2), X)
    # directions are spread: the mean direction is near 0 (uniform on the sphere)
    U = De.init_at_radius(10, 1.0, 4000, seed=3)
    assert np.linalg.norm(U.mean(axis=0)) < 0.1


@pytest.mark.parametrize("args, kwargs, match", [
    ((0, 1.0), {}, r"dim must be an integer >= 1, got 0"),
    ((5, 0.0), {}, r"radius must be in \]0, inf\[, got 0.0"),
    ((5, -2.0), {}, r"radius must be in \]0, inf\["),
    ((5, 1.0, 0), {}, r"n must be an integer >= 1, got 0"),
    ((5, 1.0), {"centre": np.zeros(4)}, r"centre must be a real array of shape \(5,\)"),
    ((5, 1.0), {"centre": np.full(5, np.inf)}, r"centre must be finite"),
    ((5, 1.0), {"seed": "a"}, r"seed must be None, an integer"),
])
def test_init_at_radius_rejects(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        De.init_at_radius(*args, **kwargs)


# ------------------------------------------------------------------------ projections
def test_dense_projection_is_orthonormal_and_seeded():
    P = De.subspace_projection(100, 17, "dense", seed=3)
    assert P.shape == (100, 17)
    np.testing.assert_allclose(P.T @ P, np.eye(17), rtol=0, atol=1e-10)
    np.testing.assert_array_equal(P, De.subspace_projection(100, 17, seed=3))
    assert not np.array_equal(P, De.subspace_projection(100, 17, seed=4))
    full = De.subspace_projection(12, 12, seed=0)
    np.testing.assert_allclose(full @ full.T, np.eye(12), atol=1e-12)


def test_sparse_projection_has_unit_columns_and_density():
    D, d = 2500, 40
    P = De.subspace_projection(D, d, "sparse", seed=5)
    assert sp.issparse(P) and P.format == "csr" and P.shape == (D, d)
    np.testing.assert_allclose(sp.linalg.norm(P, axis=0), 1.0, rtol=1e-14)
    density = P.nnz / (D * d)
    assert 0.8 / math.sqrt(D) < density < 1.2 / math.sqrt(D)  # expected 1/sqrt(D) = 0.02
    values = np.abs(P.toarray())
    for j in range(d):  # every non-zero of a column has the same magnitude 1/sqrt(nnz)
        col = values[:, j][values[:, j] > 0]
        np.testing.assert_allclose(col, 1.0 / math.sqrt(col.size), rtol=1e-14)
    assert (P != De.subspace_projection(D, d, "sparse", seed=5)).nnz == 0
    tiny = De.subspace_projection(4, 4, "sparse", seed=0)  # no empty column even for tiny D
    np.testing.assert_allclose(sp.linalg.norm(tiny, axis=0), 1.0)


@pytest.mark.parametrize("args, match", [
    ((10, 0), r"d must be an integer >= 1, got 0"),
    ((10, 11), r"d must be in \[1, dim=10\], got 11"),
    ((0, 1), r"dim must be an integer >= 1"),
    ((10, 3, "gaussian"), r"kind must be one of \('dense', 'sparse'\)"),
])
def test_subspace_projection_rejects(args, match):
    with pytest.raises(ValueError, match=match):
        De.subspace_projection(*args)


# ------------------------------------------------------------------------ subspace runs
def test_full_dimensional_subspace_reaches_the_target(easy):
    x0 = De.init_at_radius(DIM, 5.0, 1, seed=12)[0]
    P = De.subspace_projection(DIM, DIM, seed=1)
    cfg = De.DescentConfig(lr=0.1, steps=2000, target_loss=1e-6)
    res = De.descend_in_subspace(easy, x0, P, cfg)
    assert res.reached.tolist() == [True] and res.final_loss[0] <= 1e-6
    assert res.subspace_dim == DIM and res.final_z.shape == (1, DIM)
    np.testing.assert_allclose(res.final_x[0], x0 + P @ res.final_z[0], atol=1e-12)
    np.testing.assert_array_equal(res.steps, res.trajectory.steps_taken)
    np.testing.assert_allclose(res.trajectory.distance[-1], np.linalg.norm(res.final_z[0]),
                               rtol=1e-10)


def test_subspace_run_stays_in_the_affine_subspace(easy):
    x0 = De.init_at_radius(DIM, 5.0, 1, seed=13)[0]
    P = De.subspace_projection(DIM, 3, seed=2)
    res = De.descend_in_subspace(easy, x0, P, De.DescentConfig(optimizer="adam", steps=50))
    step = res.final_x[0] - x0
    np.testing.assert_allclose(P @ (P.T @ step), step, atol=1e-12)
    assert np.linalg.norm(step) > 0.1


def test_identity_subspace_matches_plain_descent(easy):
    x0 = De.init_at_radius(DIM, 5.0, 3, seed=14)
    cfg = De.DescentConfig(optimizer="momentum", lr=0.02, steps=100, l2=0.01)
    plain = De.descend(easy, x0, cfg)
    sub = De.descend_in_subspace(easy, x0, np.eye(DIM), cfg)
    np.testing.assert_allclose(sub.final_x, plain.final_x, rtol=0, atol=1e-12)


def test_sparse_shared_and_per_run_projections_agree_with_dense(easy):
    x0 = De.init_at_radius(DIM, 5.0, 3, seed=15)
    Ps = [De.subspace_projection(DIM, 6, "sparse", seed=s) for s in range(3)]
    cfg = De.DescentConfig(optimizer="adam", lr=0.05, steps=80, record_every=20)
    shared_sparse = De.descend_in_subspace(easy, x0, Ps[0], cfg)
    shared_dense = De.descend_in_subspace(easy, x0, Ps[0].toarray(), cfg)
    np.testing.assert_allclose(shared_sparse.final_x, shared_dense.final_x, atol=1e-12)
    per_sparse = De.descend_in_subspace(easy, x0, Ps, cfg)
    per_dense = De.descend_in_subspace(easy, x0, np.stack([p.toarray() for p in Ps]), cfg)
    np.testing.assert_allclose(per_sparse.final_x, per_dense.final_x, atol=1e-12)
    for b in range(3):
        one = De.descend_in_subspace(easy, x0[b], Ps[b].toarray(), cfg)
        np.testing.assert_allclose(one.final_x[0], per_dense.final_x[b], atol=1e-12)
        np.testing.assert_allclose(one.final_z[0], per_sparse.final_z[b], atol=1e-12)


def test_n_runs_share_start_and_projection_and_differ_by_noise(easy):
    x0 = De.init_at_radius(DIM, 5.0, 1, seed=16)[0]
    P = De.subspace_projection(DIM, 5, seed=3)
    cfg = De.DescentConfig(optimizer="sgd", lr=0.05, steps=30, noise_std=0.3)
    res = De.descend_in_subspace(easy, x0, P, cfg, seed=1, n_runs=4)
    assert res.final_x.shape == (4, DIM)
    assert len({tuple(row) for row in res.final_z.round(12)}) == 4
    again = De.descend_in_subspace(easy, x0, P, cfg, seed=1, n_runs=4)
    assert np.array_equal(res.final_x, again.final_x)


def test_descend_in_subspace_rejects(easy):
    x0, P = np.zeros(DIM), De.subspace_projection(DIM, 4, seed=0)
    with pytest.raises(ValueError, match=r"P must have shape \(D=30, d\)"):
        De.descend_in_subspace(easy, x0, P[:-1])
    with pytest.raises(ValueError, match="P must be finite"):
        De.descend_in_subspace(easy, x0, np.full((DIM, 2), np.nan))
    with pytest.raises(ValueError, match="P must be a real matrix"):
        De.descend_in_subspace(easy, x0, np.full((DIM, 2), "a"))
    with pytest.raises(ValueError, match=r"P must be a \(D, d\) matrix"):
        De.descend_in_subspace(easy, x0, [])
    with pytest.raises(ValueError, match="all P matrices must have the same d"):
        De.descend_in_subspace(easy, x0, [P, P[:, :2]])
    with pytest.raises(ValueError, match="all dense or all sparse"):
        De.descend_in_subspace(easy, x0, [P, sp.csr_matrix(P)])
    with pytest.raises(ValueError, match=r"P\[1\] must have shape"):
        De.descend_in_subspace(easy, x0, [P, P.T])
    with pytest.raises(ValueError, match="imply different numbers of runs"):
        De.descend_in_subspace(easy, np.zeros((3, DIM)), [P, P])
    with pytest.raises(ValueError, match="imply different numbers of runs"):
        De.descend_in_subspace(easy, np.zeros((3, DIM)), P, n_runs=2)
    with pytest.raises(ValueError, match="n_runs must be an integer >= 1"):
        De.descend_in_subspace(easy, x0, P, n_runs=0)


# ------------------------------------------------------------------------ threshold
# The radial escape (MODEL.md section 2). One axis wedge in D = 200 with s = 40 short axes,
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
    return De.threshold_dimension(wedge_spec(0.005), NARROW_DIMS, TCFG, n_seeds=10,
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
    escape = De.threshold_dimension(spec, ESCAPE_DIMS, TCFG, n_seeds=10, radius=10.0, seed=0)
    assert escape.threshold is not None
    assert escape.threshold <= TS / 2
    assert 3 * escape.threshold <= narrow.threshold
    # eps1 = 0.5 >> 0.215: random starts already lie inside; the smallest d succeeds
    wide = De.threshold_dimension(wedge_spec(0.5), [1, 2], TCFG, n_seeds=10, radius=10.0)
    assert wide.threshold == 1 and wide.threshold < narrow.threshold / 10


def test_threshold_is_none_when_no_dimension_suffices_and_sparse_works():
    spec = wedge_spec(0.005)
    res = De.threshold_dimension(spec, [2, 4], TCFG.replace(steps=50), n_seeds=3,
                                 radius=10.0, kind="sparse")
    assert res.threshold is None and np.all(res.success_rates == 0.0)
    res = De.threshold_dimension(spec, [TD], TCFG.replace(steps=50, lr=0.5), n_seeds=2,
                                 radius=10.0, kind="sparse", success_rate=0.5)
    assert res.threshold == TD


def test_threshold_dimension_is_reproducible():
    spec = wedge_spec(0.1)
    cfg = TCFG.replace(steps=60, noise_std=0.01)
    a = De.threshold_dimension(spec, [4, 8], cfg, n_seeds=4, radius=10.0, seed=7)
    b = De.threshold_dimension(spec, [4, 8], cfg, n_seeds=4, radius=10.0, seed=7)
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
        De.threshold_dimension(**args)


def test_descent_on_rotated_and_soft_landscapes():
    x0 = De.init_at_radius(DIM, 5.0, 3, seed=17)
    cfg = De.DescentConfig(optimizer="adam", lr=0.05, steps=3000, target_loss=1e-6)
    rotated = landsim.random_landscape(DIM, 2, 4, kind="rotated", eps0=0.2, eps1=0.05, seed=5)
    traj = De.descend(rotated, x0, cfg)
    assert np.all(traj.reached)
    np.testing.assert_array_equal(traj.final_loss, geometry.loss(rotated, traj.final_x))
    # soft union: inside one wedge only, L_tau = tau log K (> 1e-6), so aim just above it
    tau = 1e-3
    soft = landsim.random_landscape(DIM, 2, 4, eps0=0.2, eps1=0.05, union="soft", tau=tau,
                                    seed=5)
    traj = De.descend(soft, x0, cfg.replace(target_loss=1.01 * tau * math.log(2)))
    assert np.all(traj.reached)
