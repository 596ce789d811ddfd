"""Tests of landsim.real.sections: directions, plane and radial sections, low-loss width."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from landsim.real import flat, sections


@pytest.fixture(scope="module")
def setup(trained_pair, digits_small):
    net, a, _ = trained_pair
    fm = flat.FlatModel(net)
    return fm, a, digits_small.x_test, digits_small.y_test


def test_random_direction_is_seeded_and_filter_normalised(setup):
    fm, a, *_ = setup
    d = sections.random_direction(fm, seed=3)
    assert torch.equal(d, sections.random_direction(fm, seed=3))
    assert not torch.equal(d, sections.random_direction(fm, seed=4))
    fn = sections.random_direction(fm, seed=3, filter_normalise=True, reference=a)
    ref, got = fm.unflatten(a), fm.unflatten(fn)
    for name, w in ref.items():
        if w.ndim >= 2:  # every filter (row) has the reference filter's norm
            torch.testing.assert_close(got[name].norm(dim=1), w.norm(dim=1))
        else:  # biases ignored
            assert got[name].abs().max() == 0
    keep = fm.unflatten(sections.random_direction(fm, seed=3, filter_normalise=True,
                                                  reference=a, ignore_1d=False))
    torch.testing.assert_close(keep["1.bias"].norm(), ref["1.bias"].norm())


def test_plane_section_values_are_the_losses_at_the_grid_points(setup):
    fm, a, x, y = setup
    d1 = sections.random_direction(fm, seed=0)
    d2 = sections.random_direction(fm, seed=1)
    sec = sections.plane_section(fm, x, y, a, d1, d2, extent=2.0, resolution=5)
    assert sec.loss.shape == (5, 5) and sec.alpha[2] == 0
    assert float(sec.e1 @ sec.e2) == pytest.approx(0, abs=1e-6)
    assert float(sec.e1.norm()) == pytest.approx(1, rel=1e-6)
    assert sec.loss[2, 2] == pytest.approx(fm.evaluate(a, x, y)[0], rel=1e-6)
    p = a + sec.alpha[0] * sec.e1 + sec.beta[3] * sec.e2
    loss, acc = fm.evaluate(p, x, y)
    assert sec.loss[0, 3] == pytest.approx(loss, rel=1e-5) and sec.accuracy[0, 3] == acc
    raw = sections.plane_section(fm, x, y, a, d1, d2, alpha=[0.5], beta=[-1.0, 0.0],
                                 orthonormalise=False)
    assert torch.equal(raw.e1, d1) and raw.loss.shape == (1, 2)
    assert raw.loss[0, 1] == pytest.approx(fm.evaluate(a + 0.5 * d1, x, y)[0], rel=1e-5)
    with pytest.raises(ValueError, match="must not be parallel"):
        sections.plane_section(fm, x, y, a, d1, 3 * d1)
    with pytest.raises(ValueError, match="both alpha and beta"):
        sections.plane_section(fm, x, y, a, d1, d2, alpha=[0.0])


def test_radial_section_agrees_with_the_plane_section(setup):
    fm, a, x, y = setup
    zero = torch.zeros(fm.n_params)
    e1, e2 = sections.plane_through(a, seed=2)
    torch.testing.assert_close(e1 * a.norm(), a)  # the optimum lies on the e1 axis
    r = float(a.norm())
    rad = sections.radial_section(fm, x, y, zero, e1, e2, radii=[0.0, r], angles=[0.0, 1.0])
    assert rad.loss[0, 0] == rad.loss[0, 1] == pytest.approx(fm.evaluate(zero, x, y)[0])
    assert rad.loss[1, 0] == pytest.approx(fm.evaluate(a, x, y)[0], rel=1e-5)
    pl = sections.plane_section(fm, x, y, zero, e1, e2, alpha=[r * math.cos(1.0)],
                                beta=[r * math.sin(1.0)])
    assert rad.loss[1, 1] == pytest.approx(pl.loss[0, 0], rel=1e-6)
    with pytest.raises(ValueError, match=r"radii must lie in \[0, inf\["):
        sections.radial_section(fm, x, y, zero, e1, e2, radii=[-1.0], angles=[0.0])


def _section(low_rows, radii):
    low = np.asarray(low_rows, dtype=bool)
    n = low.shape[1]
    angles = -math.pi + 2 * math.pi * np.arange(n) / n
    return sections.RadialSection(np.where(low, 0.0, 1.0), np.where(low, 1.0, 0.5),
                                  np.asarray(radii, float), angles, None, None, None)


def test_low_loss_width_counts_the_arc_around_the_centre():
    # 8 angles, centre (angle 0) at index 4
    sec = _section([[0, 0, 0, 0, 0, 0, 0, 0],
                    [0, 0, 0, 1, 1, 1, 0, 0],
                    [1, 0, 0, 1, 1, 0, 1, 1],
                    [1, 1, 1, 1, 1, 1, 1, 1],
                    [1, 1, 0, 0, 0, 1, 1, 1]], radii=[1, 2, 3, 4, 5])
    w = sections.low_loss_width(sec, 0.5)
    assert w.cells.tolist() == [0, 3, 2, 8, 0]
    step = 2 * math.pi / 8
    np.testing.assert_allclose(w.width, np.array([1, 2, 3, 4, 5]) * step * w.cells)
    wrap = sections.low_loss_width(sec, 0.5, centre_angle=math.pi)  # index 0: wraps around
    assert wrap.cells.tolist() == [0, 0, 3, 8, 5]
    total = sections.low_loss_width(sec, 0.5, connected=False)
    assert total.cells.tolist() == [0, 3, 5, 8, 5]
    err = sections.low_loss_width(sec, 0.0, values="error")  # error 0 where loss is low
    assert err.cells.tolist() == w.cells.tolist()


def test_low_loss_width_on_a_partial_fan_does_not_wrap():
    angles = np.linspace(-0.5, 0.5, 5)
    loss = np.array([[0.0, 1.0, 0.0, 0.0, 0.0]])
    sec = sections.RadialSection(loss, 1 - loss, np.array([2.0]), angles, None, None, None)
    assert sections.low_loss_width(sec, 0.5).cells.tolist() == [3]
    bad = sec._replace(angles=np.array([0.0, 0.1, 0.3, 0.4, 0.5]))
    with pytest.raises(ValueError, match="evenly spaced"):
        sections.low_loss_width(bad, 0.5)
