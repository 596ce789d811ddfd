"""Tests of landsim.real.data: built-in sources, splits, IDX and npz loaders."""

from __future__ import annotations

import gzip
import math

import numpy as np
import pytest
import torch

from landsim.real import data


# ------------------------------------------------------------------------ splits
def test_split_indices_is_a_seeded_partition():
    tr, te = data.split_indices(101, 0.3, seed=5)
    assert te.size == 30 and tr.size == 71
    np.testing.assert_array_equal(np.sort(np.concatenate([tr, te])), np.arange(101))
    tr2, te2 = data.split_indices(101, 0.3, seed=5)
    np.testing.assert_array_equal(te, te2)
    assert not np.array_equal(te, data.split_indices(101, 0.3, seed=6)[1])
    # at least one sample on each side
    assert data.split_indices(3, 0.01)[1].size == 1 and data.split_indices(3, 0.99)[0].size == 1


@pytest.mark.parametrize("frac", [0.0, 1.0, -0.2, float("nan")])
def test_split_indices_rejects_bad_fraction(frac):
    with pytest.raises(ValueError, match="test_fraction"):
        data.split_indices(10, frac)


def test_standardise_split_uses_training_statistics():
    rng = np.random.default_rng(0)
    xtr, xte = rng.normal(3, 2, (50, 4)), rng.normal(3, 2, (20, 4))
    xtr[:, 2] = 7.0  # constant feature: centred only
    a, b = data.standardise_split(xtr, xte)
    np.testing.assert_allclose(a.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(a.std(0)[[0, 1, 3]], 1, rtol=1e-12)
    assert np.all(a[:, 2] == 0)
    mu, sd = xtr.mean(0), xtr.std(0)
    np.testing.assert_allclose(b[:, 0], (xte[:, 0] - mu[0]) / sd[0], rtol=1e-12)


# ------------------------------------------------------------------------ built-in sources
def test_digits_split_shapes_and_standardisation():
    ds = data.digits(test_fraction=0.25, seed=0)
    assert ds.n_train + ds.n_test == 1797 and ds.n_test == round(1797 * 0.25)
    assert ds.input_shape == (64,) and ds.n_classes == 10 and ds.x_train.dtype == torch.float32
    mean, std = ds.x_train.double().mean(0), ds.x_train.double().std(0, unbiased=False)
    assert float(mean.abs().max()) < 1e-5
    varying = std > 0
    np.testing.assert_allclose(std[varying].numpy(), 1.0, rtol=1e-5)
    img = data.digits(seed=0, image=True)
    assert img.input_shape == (1, 8, 8)
    torch.testing.assert_close(img.x_train.reshape(img.n_train, -1), ds.x_train)
    raw = data.digits(seed=0, standardise=False)
    assert float(raw.x_train.min()) >= 0 and float(raw.x_train.max()) <= 1


def test_digits_same_seed_same_split_other_seed_differs():
    a, b, c = data.digits(seed=3), data.digits(seed=3), data.digits(seed=4)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.y_train, c.y_train)


def test_teacher_labels_follow_the_documented_teacher():
    ds = data.teacher(n_train=200, n_test=50, dim=5, n_classes=3, hidden=7, seed=9)
    rng = np.random.default_rng(9)
    w1, b1, w2 = rng.standard_normal((5, 7)), rng.standard_normal(7), rng.standard_normal((7, 3))
    x = rng.standard_normal((250, 5))
    y = np.argmax(np.tanh(x @ w1 / math.sqrt(5) + b1) @ w2, axis=1)
    np.testing.assert_allclose(ds.x_train.numpy(), x[:200], rtol=1e-6)
    np.testing.assert_array_equal(ds.y_train.numpy(), y[:200])
    np.testing.assert_array_equal(ds.y_test.numpy(), y[200:])


def test_mixture_class_means_are_separation_apart():
    ds = data.mixture(n_train=20000, n_test=10, dim=6, n_classes=3, separation=4.0, seed=1)
    x, y = ds.x_train.double().numpy(), ds.y_train.numpy()
    means = np.stack([x[y == k].mean(0) for k in range(3)])
    dist = np.linalg.norm(means[:, None] - means[None], axis=-1)[np.triu_indices(3, 1)]
    np.testing.assert_allclose(dist, 4.0, atol=0.1)  # sampling error ~ sqrt(6 * 3 / 20000)
    assert set(np.unique(y)) == {0, 1, 2}


def test_dataset_rejects_bad_labels_and_shapes():
    x = torch.zeros(4, 3)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\]"):
        data.Dataset(x, torch.tensor([0, 1, 2, 0]), x, torch.tensor([0, 1, 0, 0]), 2)
    with pytest.raises(ValueError, match="x_train must have shape"):
        data.Dataset(x, torch.tensor([0, 1, 0]), x, torch.tensor([0, 1, 0, 0]), 2)
    with pytest.raises(ValueError, match="int64"):
        data.Dataset(x, torch.zeros(4, dtype=torch.int32), x, torch.zeros(4, dtype=torch.int64), 2)


def test_batches_cover_the_split_once_and_are_seeded():
    ds = data.mixture(n_train=23, n_test=5, dim=2, seed=0)
    ys = [yb for _, yb in ds.batches(5, seed=1)]
    assert [len(b) for b in ys] == [5, 5, 5, 5, 3]
    xs = torch.cat([xb for xb, _ in ds.batches(5, seed=1)])
    order = torch.cat([torch.nonzero((ds.x_train == row).all(1))[0] for row in xs])
    assert sorted(order.tolist()) == list(range(23))
    assert torch.equal(torch.cat(ys), torch.cat([yb for _, yb in ds.batches(5, seed=1)]))
    in_order = torch.cat([xb for xb, _ in ds.batches(7)])
    assert torch.equal(in_order, ds.x_train)


def test_make_dataset_dispatches_and_validates():
    ds = data.make_dataset("mixture", seed=2, n_train=10, n_test=4, dim=3)
    assert ds.n_train == 10 and ds.input_shape == (3,)
    with pytest.raises(ValueError, match="source must be one of"):
        data.make_dataset("cifar")


# ------------------------------------------------------------------------ IDX files
@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, dtype, compress):
    arr = (np.arange(2 * 3 * 4).reshape(2, 3, 4) - (0 if dtype == "u1" else 5)).astype(dtype)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    data.write_idx(path, arr)
    with open(path, "rb") as f:
        assert (f.read(2) == b"\x1f\x8b") == compress
    back = data.read_idx(path)
    assert back.dtype == arr.dtype and back.shape == arr.shape
    np.testing.assert_array_equal(back, arr)


def test_idx_header_is_the_mnist_layout(tmp_path):
    arr = np.arange(6, dtype=np.uint8).reshape(1, 2, 3)
    data.write_idx(tmp_path / "x", arr)
    raw = (tmp_path / "x").read_bytes()
    assert raw[:4] == bytes([0, 0, 0x08, 3])  # magic 0x00000803: unsigned bytes, 3 dims
    assert raw[4:16] == bytes([0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3])
    assert raw[16:] == bytes(range(6))
    # big-endian payload for wider types
    data.write_idx(tmp_path / "y", np.array([1, 256], dtype=np.int32))
    assert (tmp_path / "y").read_bytes()[8:] == bytes([0, 0, 0, 1, 0, 0, 1, 0])


def test_idx_errors_name_the_problem(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(bytes([1, 0, 8, 1, 0, 0, 0, 1, 7]))
    with pytest.raises(ValueError, match="magic number"):
        data.read_idx(bad)
    bad.write_bytes(bytes([0, 0, 0x0A, 1, 0, 0, 0, 1, 7]))
    with pytest.raises(ValueError, match="type code"):
        data.read_idx(bad)
    bad.write_bytes(bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"shape \(2, 2\).*4 data bytes.*has 3"):
        data.read_idx(bad)
    with gzip.open(tmp_path / "t.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(ValueError, match="truncated"):
        data.read_idx(tmp_path / "t.gz")


def _write_mnist_like(tmp_path, n=20, side=6, seed=0, prefix="train"):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, side, side), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    ip, lp = tmp_path / f"{prefix}-images.gz", tmp_path / f"{prefix}-labels.gz"
    data.write_idx(ip, images)
    data.write_idx(lp, labels)
    return images, labels, ip, lp


def test_idx_dataset_from_files(tmp_path):
    images, labels, ip, lp = _write_mnist_like(tmp_path)
    ds = data.idx(ip, lp, test_fraction=0.25, seed=3)
    assert ds.input_shape == (1, 6, 6) and ds.n_train == 15 and ds.n_test == 5
    tr, te = data.split_indices(20, 0.25, 3)
    np.testing.assert_allclose(ds.x_test[:, 0].numpy(), images[te] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.y_train.numpy(), labels[tr])
    ti, tl, tip, tlp = _write_mnist_like(tmp_path, n=8, seed=1, prefix="test")
    ds2 = data.idx(ip, lp, tip, tlp, limit=12)
    assert ds2.n_train == 12 and ds2.n_test == 8
    np.testing.assert_array_equal(ds2.y_test.numpy(), tl)


def test_idx_dataset_rejects_mismatched_counts(tmp_path):
    _, _, ip, _ = _write_mnist_like(tmp_path)
    data.write_idx(tmp_path / "short-labels", np.zeros(19, dtype=np.uint8))
    with pytest.raises(ValueError, match="20 samples but .* has 19 labels"):
        data.idx(ip, tmp_path / "short-labels")
    with pytest.raises(ValueError, match="both test_images and test_labels"):
        data.idx(ip, tmp_path / "short-labels", test_images=ip)


# ------------------------------------------------------------------------ npz files
def test_npz_dataset(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 5)), rng.integers(0, 3, 30)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    ds = data.npz(tmp_path / "d.npz", test_fraction=0.2, seed=1, standardise=False)
    tr, te = data.split_indices(30, 0.2, 1)
    np.testing.assert_allclose(ds.x_train.numpy(), x[tr], rtol=1e-6)
    np.testing.assert_array_equal(ds.y_test.numpy(), y[te])
    np.savez(tmp_path / "e.npz", x=x, y=y, x_test=x[:4], y_test=y[:4])
    ds = data.npz(tmp_path / "e.npz")
    assert ds.n_train == 30 and ds.n_test == 4


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "noy.npz", x=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="'x' and 'y'"):
        data.npz(tmp_path / "noy.npz")
    np.savez(tmp_path / "count.npz", x=np.zeros((3, 2)), y=np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="3 samples but y has 4 labels"):
        data.npz(tmp_path / "count.npz")
    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}] * 3, dtype=object), y=np.zeros(3, int))
    with pytest.raises(ValueError, match="allow_pickle"):  # never unpickled
        data.npz(tmp_path / "obj.npz")


def test_container_and_split_live_in_the_sibling_and_data_reexports_them():
    from landsim.real import _dataset

    for name in ("Dataset", "split_indices", "standardise_split"):
        assert getattr(data, name) is getattr(_dataset, name)
        assert name in data.__all__
    x = np.arange(20.0).reshape(10, 2)
    ds = _dataset.from_arrays(x, np.arange(10) % 3, 0.3, 0, "arrays", standardise=False)
    assert (ds.n_train, ds.n_test, ds.n_classes) == (7, 3, 3)


@pytest.mark.parametrize("seed", [-1, True, 1.5, 2**63])
def test_loaders_refuse_a_bad_seed_by_the_one_seed_rule(seed):
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, "):
        data.teacher(n_train=20, n_test=10, seed=seed)
