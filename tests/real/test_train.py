"""Tests of landsim.real.train: configs, schedules, deterministic training, checkpoints."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from landsim.real import data, flat, train

CFG = train.TrainConfig(optimizer="momentum", lr=0.05, epochs=3, batch_size=50,
                        keep_snapshots=True)


@pytest.mark.parametrize("field,value,match", [
    ("optimizer", "rmsprop", "optimizer must be one of"),
    ("lr", 0.0, r"lr must be in \]0, inf\["),
    ("momentum", 1.0, r"momentum must be in \[0, 1\["),
    ("weight_decay", -1e-3, "weight_decay"),
    ("epochs", 0, "epochs must be an integer >= 1"),
    ("schedule", "cosine", "schedule must be one of"),
    ("lr_min", 0.5, r"lr_min must be in \[0, 0.05\]"),
    ("record_every", -1, "record_every"),
])
def test_config_validation(field, value, match):
    with pytest.raises(ValueError, match=match):
        train.TrainConfig(**{field: value})


def test_cyclic_schedule_falls_linearly_within_each_cycle():
    cfg = train.TrainConfig(lr=0.1, lr_min=0.01, schedule="cyclic", cycle_epochs=2)
    lrs = [train.lr_at(cfg, s, steps_per_epoch=5) for s in range(20)]
    assert lrs[9] == pytest.approx(0.01) and lrs[19] == pytest.approx(0.01)
    assert lrs[0] == pytest.approx(0.1 - 0.09 / 10) and lrs[10] == lrs[0]
    assert np.all(np.diff(lrs[:10]) < 0)
    assert train.lr_at(train.TrainConfig(lr=0.1), 7, 5) == 0.1


def test_optimise_applies_l2_weight_decay_exactly():
    # zero data loss: SGD with weight decay lambda multiplies w by (1 - lr lambda) per step
    ds = data.mixture(n_train=10, n_test=2, dim=2, seed=0)
    w = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    cfg = train.TrainConfig(optimizer="sgd", lr=0.1, weight_decay=0.5, epochs=2, batch_size=4)
    log = train.optimise([w], lambda x, y: (w * 0).sum(), ds, cfg)
    assert log.step.tolist() == [0, 3, 6]  # 3 steps per epoch, recorded per epoch
    torch.testing.assert_close(w.detach(), torch.tensor([1.0, -2.0], dtype=torch.float64)
                               * 0.95**6)


def test_training_is_deterministic_and_records_its_trajectory(make_mlp, digits_small):
    r1 = train.train(make_mlp(seed=3), digits_small, CFG, seed=7)
    r2 = train.train(make_mlp(seed=3), digits_small, CFG, seed=7)
    r3 = train.train(make_mlp(seed=3), digits_small, CFG, seed=8)
    assert torch.equal(r1.flat, r2.flat)
    np.testing.assert_array_equal(r1.trajectory.loss, r2.trajectory.loss)
    assert not torch.equal(r1.flat, r3.flat)
    t = r1.trajectory
    assert t.step.tolist() == [0, 6, 12, 18] and np.isnan(t.batch_loss[0])
    assert t.distance[0] == 0 and t.weight_norm[0] == pytest.approx(float(r1.init.norm()))
    assert t.distance[-1] == pytest.approx(float((r1.flat - r1.init).norm()), rel=1e-6)
    assert t.weight_norm[-1] == pytest.approx(float(r1.flat.norm()), rel=1e-6)
    assert t.loss[-1] < 0.5 * t.loss[0] and r1.train_loss == t.loss[-1]
    assert r1.snapshots.shape == (3, r1.flat.numel())
    assert torch.equal(r1.snapshots[-1], r1.flat)
    assert r1.test_accuracy > 0.4  # chance is 0.1


def test_train_from_a_given_init_and_record_every(make_mlp, digits_small):
    net = make_mlp(seed=0)
    start = torch.full((flat.FlatModel(net).n_params,), 0.01)
    cfg = CFG.replace(record_every=4, keep_snapshots=False, epochs=1)
    res = train.train(net, digits_small, cfg, init=start)
    assert torch.equal(res.init, start) and res.snapshots is None
    assert res.trajectory.step.tolist() == [0, 4, 6]
    assert torch.equal(flat.FlatModel(net).get_flat(), res.flat)  # trained in place
    assert start.eq(0.01).all()  # the given init is not modified


def test_batchnorm_training_keeps_running_statistics(make_mlp, digits_small):
    res = train.train(make_mlp(batchnorm=True), digits_small, CFG.replace(epochs=1))
    assert set(res.buffers) == {"2.running_mean", "2.running_var", "2.num_batches_tracked"}
    assert int(res.buffers["2.num_batches_tracked"]) == 6


def test_device_argument_is_validated(make_mlp, digits_small):
    with pytest.raises(ValueError, match="device must be one of"):
        train.train(make_mlp(), digits_small, CFG, device="gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="torch.cuda.is_available"):
            train.train(make_mlp(), digits_small, CFG, device="cuda")


def test_checkpoint_round_trip(tmp_path, make_mlp):
    net = make_mlp(batchnorm=True)
    w = flat.FlatModel(net).get_flat()
    config = {"model": {"name": "mlp", "width": 12}, "train": CFG.to_dict(), "seed": 3}
    train.save_checkpoint(tmp_path / "c.pt", flat=w, state=net.state_dict(), config=config)
    ck = train.load_checkpoint(tmp_path / "c.pt")
    assert torch.equal(ck.flat, w) and ck.config == config
    assert train.TrainConfig(**ck.config["train"]) == CFG
    assert all(torch.equal(ck.state[k], v) for k, v in net.state_dict().items())
    train.save_checkpoint(tmp_path / "f.pt", flat=w)
    assert train.load_checkpoint(tmp_path / "f.pt").state is None


def test_checkpoint_errors(tmp_path):
    with pytest.raises(ValueError, match="flat weights, a state dict, or both"):
        train.save_checkpoint(tmp_path / "x.pt")
    with pytest.raises(ValueError, match="JSON"):
        train.save_checkpoint(tmp_path / "x.pt", flat=torch.zeros(2), config={"f": object()})
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a landsim checkpoint"):
        train.load_checkpoint(tmp_path / "other.pt")
    torch.save({"format": train.CHECKPOINT_FORMAT, "flat": np.dtype}, tmp_path / "evil.pt")
    with pytest.raises(pickle.UnpicklingError):  # weights_only=True refuses arbitrary objects
        train.load_checkpoint(tmp_path / "evil.pt")
