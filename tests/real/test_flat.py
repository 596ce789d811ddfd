"""Tests of landsim.real.flat: flat vectors, functional evaluation, batch norm."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from landsim.real import flat


@pytest.fixture
def fm(make_mlp):
    return flat.FlatModel(make_mlp(seed=2))


def test_get_set_round_trip_without_aliasing(fm):
    w = fm.get_flat()
    assert w.shape == (fm.n_params,) == (64 * 12 + 12 + 12 * 10 + 10,)
    v = torch.randn(fm.n_params, generator=torch.Generator().manual_seed(0))
    fm.set_flat(v)
    assert torch.equal(fm.get_flat(), v)
    fm.model[1].weight.data.mul_(0)  # changing the module must not change v
    assert not torch.equal(fm.get_flat(), v) and v.abs().sum() > 0
    parts = fm.unflatten(w)
    assert list(parts) == fm.names and parts["1.weight"].shape == (12, 64)
    with pytest.raises(ValueError, match=r"flat must have shape \(910,\)"):
        fm.set_flat(torch.zeros(3))


def test_loss_and_gradient_match_the_module(fm, digits_small):
    x, y = digits_small.x_train[:50], digits_small.y_train[:50]
    w = fm.get_flat().requires_grad_(True)
    loss = fm.loss(w, x, y)
    (g,) = torch.autograd.grad(loss, w)
    fm.model.zero_grad()
    ref = F.cross_entropy(fm.model(x), y)
    ref.backward()
    torch.testing.assert_close(loss, ref, rtol=0, atol=0)
    torch.testing.assert_close(g, torch.cat([p.grad.reshape(-1) for p in fm.model.parameters()]))


def test_evaluate_and_points_agree(fm, digits_small):
    x, y = digits_small.x_test, digits_small.y_test
    w = fm.get_flat()
    pts = torch.stack([w, 2 * w, -w, w + 0.1])
    loss, acc = fm.evaluate(2 * w, x, y, batch_size=7)
    out = F.cross_entropy(fm.logits(2 * w, x), y)
    assert loss == pytest.approx(float(out), rel=1e-6)
    assert acc == float((fm.logits(2 * w, x).argmax(1) == y).double().mean())
    vm = fm.evaluate_points(pts, x, y, points_per_call=3, batch_size=50)
    loop = fm.evaluate_points(pts, x, y, points_per_call=1)
    torch.testing.assert_close(torch.as_tensor(vm.loss), torch.as_tensor(loop.loss), rtol=1e-5,
                               atol=1e-6)
    assert (vm.accuracy == loop.accuracy).all()
    assert vm.loss[1] == pytest.approx(loss, rel=1e-5)


def test_bn_buffers_are_the_statistics_at_the_point(make_mlp, digits_small):
    fm = flat.FlatModel(make_mlp(seed=1, batchnorm=True))
    assert fm.has_batchnorm
    x = digits_small.x_train[:64]
    w = fm.get_flat() * 1.7
    stored = {k: v.clone() for k, v in fm.buffers().items()}
    bufs = fm.bn_buffers(w, x, batch_size=64)
    pre = F.linear(x, fm.unflatten(w)["1.weight"], fm.unflatten(w)["1.bias"])  # (64, 12)
    torch.testing.assert_close(bufs["2.running_mean"], pre.mean(0))
    torch.testing.assert_close(bufs["2.running_var"], pre.var(0, unbiased=True))
    for k, v in fm.buffers().items():  # the module keeps its own statistics
        assert torch.equal(v, stored[k])
    # equal batches: update_bn's cumulative average of batch means is the overall mean
    torch.testing.assert_close(fm.bn_buffers(w, x, batch_size=16)["2.running_mean"], pre.mean(0))
    # evaluation with the recomputed buffers = the module in eval mode after update_bn
    fm.model.eval()
    fm.set_flat(w)
    torch.optim.swa_utils.update_bn([x], fm.model)
    fm.model.eval()
    ref = F.cross_entropy(fm.model(x), digits_small.y_train[:64])
    got = fm.evaluate(w, x, digits_small.y_train[:64], bufs)[0]
    assert got == pytest.approx(float(ref.detach()), rel=1e-5)


def test_batch_stats_leave_buffers_alone(make_mlp, digits_small):
    fm = flat.FlatModel(make_mlp(batchnorm=True))
    before = {k: v.clone() for k, v in fm.buffers().items()}
    x, y = digits_small.x_train[:32], digits_small.y_train[:32]
    train_mode = fm.loss(fm.get_flat(), x, y, batch_stats=True)
    eval_mode = fm.loss(fm.get_flat(), x, y)
    assert float(train_mode) != float(eval_mode)
    assert all(torch.equal(v, before[k]) for k, v in fm.buffers().items())
    assert fm.model.training  # mode restored


def test_evaluate_splits_with_bn_recomputes_per_point(make_mlp, digits_small):
    fm = flat.FlatModel(make_mlp(batchnorm=True))
    w = fm.get_flat()
    tr, te = flat.evaluate_splits(fm, torch.stack([w, 3 * w]), digits_small)
    bufs = fm.bn_buffers(3 * w, digits_small.x_train)
    assert te.loss[1] == pytest.approx(fm.evaluate(3 * w, digits_small.x_test,
                                                   digits_small.y_test, bufs)[0], rel=1e-6)
    assert tr.accuracy.shape == (2,)


def test_device_validation(make_mlp):
    with pytest.raises(ValueError, match="device must be one of"):
        flat.FlatModel(make_mlp(), device="tpu")
    if torch.cuda.is_available():
        assert flat.FlatModel(make_mlp(), device="cuda").device.type == "cuda"
    else:
        with pytest.raises(ValueError, match="torch.cuda.is_available"):
            flat.FlatModel(make_mlp(), device="cuda")
