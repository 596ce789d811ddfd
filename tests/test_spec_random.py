"""Tests of landsim.spec.random_landscape: errors, determinism and the documented draws."""

from __future__ import annotations

import math

import numpy as np
import pytest

from landsim.spec import random_landscape

D = 12


def test_random_landscape_errors():
    with pytest.raises(ValueError, match=r"kind must be one of \('axis', 'rotated'\), "
                                         r"got 'dense'"):
        random_landscape(D, 2, 3, kind="dense")
    rule = r"n_short must be an integer in \[1, dim - 1 = 11\] \(a wedge needs at least one " \
        r"long direction\), got "
    with pytest.raises(ValueError, match=rule + "13"):
        random_landscape(D, 2, 13)
    with pytest.raises(ValueError, match=rule + "12"):  # s = D leaves no long direction
        random_landscape(D, 2, 12)
    with pytest.raises(ValueError, match=rule + "20"):
        random_landscape(D, 2, [3, 20], kind="rotated")
    with pytest.raises(ValueError, match=rule + "0"):
        random_landscape(D, 2, 0)
    with pytest.raises(ValueError, match=r"n_short must be a scalar or have n_wedges=3 "
                                         r"entries, got 2"):
        random_landscape(D, 3, [2, 3])
    with pytest.raises(ValueError, match=r"eps0 must be a scalar or have n_wedges=2 "
                                         r"entries, got 3"):
        random_landscape(D, 2, 3, eps0=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"eps1 must be a scalar or have n_wedges=2 "
                                         r"entries, got 1"):
        random_landscape(D, 2, 3, eps1=[0.1])
    with pytest.raises(ValueError, match=r"anchor_scale must be in \[0, inf\[, got -0.5"):
        random_landscape(D, 2, 3, anchor_scale=-0.5)
    with pytest.raises(ValueError, match=r"anchor_scale must be in \[0, inf\[ and finite"):
        random_landscape(D, 2, 3, anchor_scale=math.nan)
    with pytest.raises(ValueError, match=r"n_wedges must be an integer >= 1, got 0"):
        random_landscape(D, 0, 3)
    with pytest.raises(ValueError, match=r"dim must be an integer >= 1, got 0"):
        random_landscape(0, 2, 3)
    with pytest.raises(ValueError, match=r"eps1 must be in \[0, inf\[, got .*-0.1"):
        random_landscape(D, 2, 3, eps1=[0.1, -0.1])
    with pytest.raises(ValueError, match=r"union must be one of"):
        random_landscape(D, 2, 3, union="mean")


@pytest.mark.parametrize("kind", ["axis", "rotated"])
def test_random_landscape_deterministic(kind):
    kw = dict(kind=kind, eps0=0.1, eps1=0.05, anchor_scale=0.5)
    a = random_landscape(20, 3, 4, seed=42, **kw)
    b = random_landscape(20, 3, 4, seed=42, **kw)
    c = random_landscape(20, 3, 4, seed=43, **kw)
    assert a == b and hash(a) == hash(b)
    assert a != c
    g = random_landscape(20, 3, 4, seed=np.random.default_rng(42), **kw)
    assert g == a
    for w in a.wedges:
        assert w.kind == kind


def test_random_axis_sets():
    spec = random_landscape(30, 5, 7, seed=3)
    for w in spec.wedges:
        assert w.short_axes.size == 7
        assert np.all(np.diff(w.short_axes) > 0)
        assert 0 <= w.short_axes[0] and w.short_axes[-1] < 30
        assert w.anchor is None


@pytest.mark.parametrize("anchor_scale", [0.0, 0.8])
def test_random_axis_documented_construction(anchor_scale):
    dim, shorts, seed = 25, [3, 9, 1, 6], 17
    spec = random_landscape(dim, 4, shorts, anchor_scale=anchor_scale, seed=seed)
    rng = np.random.default_rng(seed)
    for w, s in zip(spec.wedges, shorts):
        axes = rng.choice(dim, size=s, replace=False)
        np.testing.assert_array_equal(w.short_axes, np.sort(axes))
        if anchor_scale > 0:
            np.testing.assert_array_equal(w.anchor, rng.normal(0.0, anchor_scale, dim))
        else:
            assert w.anchor is None


@pytest.mark.parametrize("anchor_scale", [0.0, 1.3])
def test_random_rotated_frames(anchor_scale):
    dim, shorts, seed = 16, [1, 4, 15, 7], 5
    spec = random_landscape(dim, 4, shorts, kind="rotated", anchor_scale=anchor_scale,
                            seed=seed)
    rng = np.random.default_rng(seed)
    for w, s in zip(spec.wedges, shorts):
        q = w.short_frame
        assert q.shape == (dim, s)
        assert np.max(np.abs(q.T @ q - np.eye(s))) < 1e-12
        G = rng.standard_normal((dim, s))
        # QR sign convention: G = Q R with R upper triangular, diag(R) > 0
        R = q.T @ G
        assert np.all(np.diag(R) > 0)
        np.testing.assert_allclose(np.tril(R, -1), 0.0, atol=1e-12)
        np.testing.assert_allclose(q @ R, G, atol=1e-12)
        # and it is exactly the documented construction
        qq, rr = np.linalg.qr(G)
        expected = qq * np.where(np.diag(rr) < 0, -1.0, 1.0)
        np.testing.assert_array_equal(q, expected)
        if anchor_scale > 0:
            np.testing.assert_array_equal(w.anchor, rng.normal(0.0, anchor_scale, dim))
        else:
            assert w.anchor is None


def test_random_per_wedge_lists_honoured():
    e0 = [0.0, 0.25, 1.5]
    e1 = np.array([0.3, 0.0, 0.01])
    for kind in ("axis", "rotated"):
        spec = random_landscape(D, 3, (2, 5, 11), kind=kind, eps0=e0, eps1=e1, union="soft",
                                tau=0.2, seed=0)
        assert [w.n_short for w in spec.wedges] == [2, 5, 11]
        assert [w.eps0 for w in spec.wedges] == e0
        assert [w.eps1 for w in spec.wedges] == e1.tolist()
        assert all(isinstance(w.eps0, float) and isinstance(w.eps1, float)
                   for w in spec.wedges)
        assert (spec.union, spec.tau, spec.n_wedges, spec.dim) == ("soft", 0.2, 3, D)
    scalar = random_landscape(D, 3, 4, eps0=0.5, eps1=0.125, seed=0)
    assert all((w.n_short, w.eps0, w.eps1) == (4, 0.5, 0.125) for w in scalar.wedges)
