"""Tests of landsim.descent: optimisers and trajectories (random-subspace training:
tests/test_descent_subspace.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

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
    with pytest.raises(ValueError, match=r"seed must be None, an integer in "
                                         r"\[0, 9223372036854775807\]"):
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
