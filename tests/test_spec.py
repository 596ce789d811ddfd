"""Tests of landsim.spec: validation, immutability, equality, storage, random landscapes."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import numpy as np
import pytest

from landsim.spec import ORTHONORMAL_TOL, LandscapeSpec, WedgeSpec, random_landscape

D = 12


def axis_wedge(**kw) -> WedgeSpec:
    args = dict(dim=D, eps0=0.1, eps1=0.05, short_axes=[3, 0, 7])
    args.update(kw)
    return WedgeSpec(**args)


def orthonormal(dim: int, s: int, seed: int = 0) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, s)))
    return q


def rotated_wedge(**kw) -> WedgeSpec:
    args = dict(dim=D, eps0=0.1, eps1=0.05, short_frame=orthonormal(D, 3))
    args.update(kw)
    return WedgeSpec(**args)


# ------------------------------------------------------------- WedgeSpec errors
@pytest.mark.parametrize("axes, match", [
    ([0, -1], r"short_axes must lie in \[0, 11\], got -1"),
    ([2, 12], r"short_axes must lie in \[0, 11\], got 12"),
    ([40], r"short_axes must lie in \[0, 11\], got 40"),
    ([1, 5, 1], r"short_axes must be distinct, axis 1 repeats"),
    ([], r"the number of short_axes must be an integer in \[1, dim - 1 = 11\] \(a wedge "
         r"needs at least one long direction\), got 0"),
    (list(range(12)), r"the number of short_axes must be an integer in \[1, dim - 1 = 11\] "
                      r".*, got 12"),
    ([0.5, 2], r"short_axes must be integers, got dtype float64"),
    ([1.0, np.nan], r"short_axes must be integers, got dtype float64"),
    (["a", "b"], r"short_axes must be integers, got dtype <U1"),
    ([True, False], r"short_axes must be integers, got dtype bool"),
    ([[0, 1], [2, 3]], r"short_axes must be 1-D, got shape \(2, 2\)"),
])
def test_bad_short_axes(axes, match):
    with pytest.raises(ValueError, match=match):
        axis_wedge(short_axes=axes)


def test_integer_valued_float_axes_accepted_and_sorted():
    w = axis_wedge(short_axes=[7.0, 2.0])
    assert w.short_axes.dtype == np.int64
    assert w.short_axes.tolist() == [2, 7]


def test_exactly_one_of_axes_and_frame():
    msg = r"give exactly one of short_axes .* or short_frame"
    with pytest.raises(ValueError, match=msg):
        WedgeSpec(dim=D, eps0=0.0, eps1=0.0)
    with pytest.raises(ValueError, match=msg):
        WedgeSpec(dim=D, eps0=0.0, eps1=0.0, short_axes=[1], short_frame=orthonormal(D, 1))


@pytest.mark.parametrize("shape", [(D + 1, 3), (D - 1, 3), (D,), (2, D, 3)])
def test_frame_wrong_shape(shape):
    frame = np.zeros(shape)
    if len(shape) == 2 and 1 <= shape[1] <= shape[0]:
        frame[: shape[1], : shape[1]] = np.eye(shape[1])
    msg = re.escape(f"short_frame must have shape (dim={D}, s), got {shape}")
    with pytest.raises(ValueError, match=msg):
        rotated_wedge(short_frame=frame)


@pytest.mark.parametrize("s", [0, D, D + 1])
def test_frame_column_count_follows_the_n_short_rule(s):
    """s in [1, D - 1] (check_n_short): no columns, or no long direction left, is refused."""
    frame = np.zeros((D, s))
    k = min(s, D)
    frame[:k, :k] = np.eye(k)
    msg = re.escape(f"the number of short_frame columns must be an integer in "
                    f"[1, dim - 1 = {D - 1}] (a wedge needs at least one long direction), "
                    f"got {s}")
    with pytest.raises(ValueError, match=msg):
        rotated_wedge(short_frame=frame)


def test_frame_not_orthonormal_reports_error():
    q = orthonormal(D, 3)
    bad = q.copy()
    bad[:, 1] *= 1.5  # |q1|^2 - 1 = 1.25
    with pytest.raises(ValueError, match=r"orthonormal: max \|Q\^T Q - I\| = 1\.25, "
                                         r"allowed <= 1e-08"):
        rotated_wedge(short_frame=bad)
    skew = q.copy()
    skew[:, 2] = q[:, 0]  # two equal unit columns: off-diagonal 1
    with pytest.raises(ValueError, match=r"max \|Q\^T Q - I\| = 1,"):
        rotated_wedge(short_frame=skew)
    # just inside / outside the tolerance
    nudged = q.copy()
    nudged[:, 0] *= math.sqrt(1 + 0.5 * ORTHONORMAL_TOL)
    rotated_wedge(short_frame=nudged)
    nudged[:, 0] = q[:, 0] * math.sqrt(1 + 4 * ORTHONORMAL_TOL)
    with pytest.raises(ValueError, match=r"max \|Q\^T Q - I\| = 4e-08"):
        rotated_wedge(short_frame=nudged)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_frame_not_finite(bad):
    q = orthonormal(D, 2)
    q[4, 1] = bad
    with pytest.raises(ValueError, match=r"short_frame must be finite, found NaN or inf"):
        rotated_wedge(short_frame=q)


def test_frame_complex_rejected():
    with pytest.raises(ValueError, match=r"short_frame must be real, got dtype complex128"):
        rotated_wedge(short_frame=orthonormal(D, 2).astype(complex))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_anchor_not_finite(bad):
    a = np.ones(D)
    a[3] = bad
    with pytest.raises(ValueError, match=r"anchor must be finite, found NaN or inf"):
        axis_wedge(anchor=a)
    with pytest.raises(ValueError, match=r"anchor must be finite, found NaN or inf"):
        rotated_wedge(anchor=a)


@pytest.mark.parametrize("shape", [(D + 1,), (D - 1,), (1, D), ()])
def test_anchor_wrong_shape(shape):
    msg = re.escape(f"anchor must have shape (dim={D},), got {shape}")
    with pytest.raises(ValueError, match=msg):
        axis_wedge(anchor=np.ones(shape))


def test_anchor_complex_rejected():
    with pytest.raises(ValueError, match=r"anchor must be real, got dtype complex128"):
        axis_wedge(anchor=np.ones(D, complex))


@pytest.mark.parametrize("field", ["eps0", "eps1"])
def test_bad_eps(field):
    with pytest.raises(ValueError, match=rf"{field} must be in \[0, inf\[, got -0.1"):
        axis_wedge(**{field: -0.1})
    with pytest.raises(ValueError, match=rf"{field} must be in \[0, inf\[ and finite, got nan"):
        axis_wedge(**{field: math.nan})
    with pytest.raises(ValueError, match=rf"{field} must be in \[0, inf\[ and finite, got inf"):
        axis_wedge(**{field: math.inf})
    with pytest.raises(ValueError, match=rf"{field} must be a real number in \[0, inf\[, got 'x'"):
        axis_wedge(**{field: "x"})
    w = axis_wedge(**{field: 0})  # zero is allowed and stored as a float
    assert getattr(w, field) == 0.0 and isinstance(getattr(w, field), float)


@pytest.mark.parametrize("dim, shown", [(0, "0"), (-3, "-3"), (True, "True"), (12.0, "12.0"),
                                        ("12", "'12'")])
def test_bad_dim(dim, shown):
    with pytest.raises(ValueError, match=rf"dim must be an integer >= 1, got {shown}"):
        WedgeSpec(dim=dim, eps0=0.0, eps1=0.0, short_axes=[0])


def test_numpy_integer_dim_accepted():
    w = WedgeSpec(dim=np.int32(5), eps0=0.0, eps1=0.0, short_axes=[0])
    assert w.dim == 5 and type(w.dim) is int


# -------------------------------------------------------- LandscapeSpec errors
def test_landscape_errors():
    w = axis_wedge()
    with pytest.raises(ValueError, match=r"tau must be in \]0, inf\[, got 0"):
        LandscapeSpec(wedges=(w,), tau=0)
    with pytest.raises(ValueError, match=r"tau must be in \]0, inf\[, got -1.0"):
        LandscapeSpec(wedges=(w,), union="soft", tau=-1.0)
    with pytest.raises(ValueError, match=r"tau must be in \]0, inf\[ and finite, got nan"):
        LandscapeSpec(wedges=(w,), union="soft", tau=math.nan)
    with pytest.raises(ValueError, match=r"union must be one of \('hard', 'soft'\), got 'max'"):
        LandscapeSpec(wedges=(w,), union="max")
    with pytest.raises(ValueError, match=r"all wedges must share one dim, got dims \[5, 12\]"):
        LandscapeSpec(wedges=(w, WedgeSpec(dim=5, eps0=0.0, eps1=0.0, short_axes=[1])))
    with pytest.raises(ValueError, match=r"same frame kind .*\['axis', 'rotated'\]"):
        LandscapeSpec(wedges=(w, rotated_wedge()))
    with pytest.raises(ValueError, match=r"at least 1 wedge, got 0"):
        LandscapeSpec(wedges=())
    with pytest.raises(ValueError, match=r"wedges\[1\] must be a WedgeSpec, got dict"):
        LandscapeSpec(wedges=(w, w.to_dict()))


def test_replace_validates():
    spec = LandscapeSpec(wedges=(axis_wedge(),))
    soft = spec.replace(union="soft", tau=0.25)
    assert (soft.union, soft.tau, spec.union, spec.tau) == ("soft", 0.25, "hard", 1.0)
    with pytest.raises(ValueError, match=r"tau must be in \]0, inf\["):
        spec.replace(tau=-2.0)
    with pytest.raises(ValueError, match=r"union must be one of"):
        spec.replace(union="min")
    with pytest.raises(ValueError, match=r"same frame kind"):
        spec.replace(wedges=(axis_wedge(), rotated_wedge()))
    with pytest.raises(ValueError, match=r"unknown fields \['temperature'\]"):
        spec.replace(temperature=1.0)


def test_landscape_properties():
    spec = LandscapeSpec(wedges=[axis_wedge(), axis_wedge(short_axes=[1])])
    assert isinstance(spec.wedges, tuple)
    assert (spec.dim, spec.n_wedges, spec.kind) == (D, 2, "axis")
    assert [w.n_short for w in spec.wedges] == [3, 1]
    assert [w.n_long for w in spec.wedges] == [D - 3, D - 1]
    rot = LandscapeSpec(wedges=(rotated_wedge(),))
    assert rot.kind == "rotated" and rot.wedges[0].n_short == 3


# ---------------------------------------------------- immutability and copies
def test_axes_sorted_and_read_only():
    w = axis_wedge(short_axes=np.array([9, 2, 5, 0]))
    assert w.short_axes.tolist() == [0, 2, 5, 9]
    with pytest.raises(ValueError, match="read-only"):
        w.short_axes[0] = 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        w.eps0 = 1.0  # type: ignore[misc]
    r = rotated_wedge(anchor=np.ones(D))
    with pytest.raises(ValueError, match="read-only"):
        r.short_frame[0, 0] = 2.0
    with pytest.raises(ValueError, match="read-only"):
        r.anchor[0] = 2.0
    spec = LandscapeSpec(wedges=(w,))
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.tau = 2.0  # type: ignore[misc]


def test_arrays_are_copies():
    axes = np.array([0, 4, 6], dtype=np.int64)  # already sorted int64
    frame = orthonormal(D, 2, seed=3)
    anchor = np.linspace(-1.0, 1.0, D)
    wa = axis_wedge(short_axes=axes, anchor=anchor)
    wr = rotated_wedge(short_frame=frame, anchor=anchor)
    before = (wa.short_axes.copy(), wr.short_frame.copy(), wr.anchor.copy())
    axes[0] = 11
    frame[0, 0] = 7.0
    anchor[:] = 3.0
    np.testing.assert_array_equal(wa.short_axes, before[0])
    np.testing.assert_array_equal(wr.short_frame, before[1])
    np.testing.assert_array_equal(wr.anchor, before[2])
    np.testing.assert_array_equal(wa.anchor, before[2])
    assert axes.flags.writeable and frame.flags.writeable and anchor.flags.writeable


def test_zero_anchor_stored_as_none():
    assert axis_wedge(anchor=np.zeros(D)).anchor is None
    assert rotated_wedge(anchor=[0] * D).anchor is None
    assert axis_wedge(anchor=None).anchor is None
    w = axis_wedge(anchor=np.zeros(D))
    np.testing.assert_array_equal(w.anchor_or_origin(), np.zeros(D))
    assert w == axis_wedge()
    a = np.zeros(D)
    a[5] = 1e-300
    assert axis_wedge(anchor=a).anchor is not None


def test_short_basis():
    w = axis_wedge(short_axes=[5, 1])
    q = w.short_basis()
    assert q.shape == (D, 2)
    np.testing.assert_array_equal(q[:, 0], np.eye(D)[1])
    np.testing.assert_array_equal(q[:, 1], np.eye(D)[5])
    r = rotated_wedge()
    np.testing.assert_array_equal(r.short_basis(), r.short_frame)


# --------------------------------------------------------- equality / hashing
def test_equality_and_hash_content_based():
    frame = orthonormal(D, 3, seed=5)
    anchor = np.arange(D, dtype=float)
    a = WedgeSpec(dim=D, eps0=0.1, eps1=0.2, short_frame=frame, anchor=anchor)
    b = WedgeSpec(dim=D, eps0=0.1, eps1=0.2, short_frame=frame.copy(), anchor=list(anchor))
    assert a is not b and a == b and hash(a) == hash(b)
    c = WedgeSpec(dim=D, eps0=0.1, eps1=0.2 + 1e-15, short_frame=frame, anchor=anchor)
    assert a != c
    # axis order carries no meaning
    assert axis_wedge(short_axes=[7, 0, 3]) == axis_wedge(short_axes=[0, 3, 7])
    assert hash(axis_wedge(short_axes=[7, 0, 3])) == hash(axis_wedge(short_axes=[0, 3, 7]))
    assert axis_wedge(short_axes=[0, 3]) != axis_wedge(short_axes=[0, 4])
    assert axis_wedge() != rotated_wedge()
    assert axis_wedge() != "a wedge"

    s1 = LandscapeSpec(wedges=(a, WedgeSpec.from_dict(a.to_dict())), union="soft",
                       tau=0.5)
    s2 = LandscapeSpec(wedges=[b, b], union="soft", tau=0.5)
    assert s1 == s2 and hash(s1) == hash(s2)
    assert len({s1, s2}) == 1
    assert s1 != s2.replace(tau=0.25)
    assert s1 != s2.replace(union="hard")
    s3 = LandscapeSpec(wedges=(a, c), union="soft", tau=0.5)
    assert s1 != s3 and s1.wedges[1] != s3.wedges[1]


def test_landscape_equality_sees_small_array_differences():
    """Landscapes differing in one array entry are different (content-based equality)."""
    anchor = np.full(D, 1.0)
    other = anchor.copy()
    other[0] += 1e-9
    w1 = axis_wedge(anchor=anchor)
    w2 = axis_wedge(anchor=other)
    assert w1 != w2
    assert LandscapeSpec(wedges=(w1,)) != LandscapeSpec(wedges=(w2,))


def test_landscape_equality_sees_differences_in_large_arrays():
    dim = 2000
    a = np.ones(dim)
    b = a.copy()
    b[1000] = 6.0
    s1 = LandscapeSpec(wedges=(WedgeSpec(dim=dim, eps0=0.0, eps1=0.0, short_axes=[1000],
                                         anchor=a),))
    s2 = LandscapeSpec(wedges=(WedgeSpec(dim=dim, eps0=0.0, eps1=0.0, short_axes=[1000],
                                         anchor=b),))
    assert s1.wedges[0] != s2.wedges[0]
    assert s1 != s2


def test_landscape_equality_independent_of_print_options():
    anchor = np.linspace(0.1234567891, 0.9, D)
    s1 = LandscapeSpec(wedges=(axis_wedge(anchor=anchor),))
    h1 = hash(s1)  # computed under the default print options
    with np.printoptions(precision=3):
        s2 = LandscapeSpec(wedges=(axis_wedge(anchor=anchor),))
        assert s1 == s2 and h1 == hash(s2)


# ---------------------------------------------------------------- storage
def _storage_specs():
    rng = np.random.default_rng(7)
    axis = LandscapeSpec(wedges=(
        axis_wedge(eps0=0.1 / 3, eps1=math.pi / 100, anchor=rng.standard_normal(D)),
        axis_wedge(short_axes=[1, 11], eps0=0.0, eps1=1e-17, anchor=None),
    ), union="soft", tau=1 / 7)
    rotated = random_landscape(D, 3, [2, 5, 4], kind="rotated", eps0=[0.1, 0.2, 1 / 3],
                               eps1=0.05, anchor_scale=0.7, union="soft", tau=0.3, seed=8)
    return [axis, rotated, random_landscape(D, 2, 3, seed=1)]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_json_round_trip_exact(index):
    spec = _storage_specs()[index]
    text = spec.to_json()
    back = LandscapeSpec.from_json(text)
    assert back == spec and hash(back) == hash(spec)
    for w0, w1 in zip(spec.wedges, back.wedges):
        assert (w0.dim, w0.eps0, w0.eps1) == (w1.dim, w1.eps0, w1.eps1)
        for f in ("short_axes", "short_frame", "anchor"):
            a0, a1 = getattr(w0, f), getattr(w1, f)
            assert (a0 is None) == (a1 is None)
            if a0 is not None:
                assert a0.dtype == a1.dtype
                np.testing.assert_array_equal(a0, a1)
    assert (back.union, back.tau) == (spec.union, spec.tau)
    assert json.loads(text)["format"] == "landsim.LandscapeSpec/1"


@pytest.mark.parametrize("index", [0, 1, 2])
def test_npz_round_trip_exact(index, tmp_path):
    spec = _storage_specs()[index]
    path = tmp_path / "spec.npz"
    spec.save_npz(path)
    back = LandscapeSpec.load_npz(path)
    assert back == spec
    for w0, w1 in zip(spec.wedges, back.wedges):
        assert (w0.eps0, w0.eps1, w0.kind) == (w1.eps0, w1.eps1, w1.kind)
        np.testing.assert_array_equal(w0.short_basis(), w1.short_basis())
        np.testing.assert_array_equal(w0.anchor_or_origin(), w1.anchor_or_origin())
    assert (back.union, back.tau) == (spec.union, spec.tau)
    # file contains no pickles
    with np.load(path, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)


def test_from_dict_rejects_wrong_format_and_unknown_fields():
    data = _storage_specs()[0].to_dict()
    bad = dict(data, format="landsim.LandscapeSpec/2")
    with pytest.raises(ValueError, match=r"format must be 'landsim.LandscapeSpec/1', "
                                         r"got 'landsim.LandscapeSpec/2'"):
        LandscapeSpec.from_dict(bad)
    with pytest.raises(ValueError, match=r"got None"):
        LandscapeSpec.from_dict({k: v for k, v in data.items() if k != "format"})
    wedges = [dict(data["wedges"][0], eps2=0.1)] + data["wedges"][1:]
    with pytest.raises(ValueError, match=r"unknown wedge fields \['eps2'\]; valid: "):
        LandscapeSpec.from_dict(dict(data, wedges=wedges))
    with pytest.raises(ValueError, match=r"unknown wedge fields \['axes'\]"):
        WedgeSpec.from_dict({"dim": D, "eps0": 0.0, "eps1": 0.0, "axes": [1]})
    # validation still applies through from_dict
    wedges = [dict(data["wedges"][0], eps1=-1.0)]
    with pytest.raises(ValueError, match=r"eps1 must be in \[0, inf\[, got -1.0"):
        LandscapeSpec.from_dict(dict(data, wedges=wedges))


def test_from_dict_rejects_unknown_landscape_fields():
    """A misspelt top-level field (here 'unoin') must not be silently dropped."""
    data = _storage_specs()[2].to_dict()
    with pytest.raises(ValueError, match=r"unoin"):
        LandscapeSpec.from_dict(dict(data, unoin="soft"))


def test_load_npz_rejects_foreign_file(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, a=np.arange(3))
    with pytest.raises(ValueError, match=r"other.npz is not a landsim landscape .npz"):
        LandscapeSpec.load_npz(path)
    path2 = tmp_path / "other2.npz"
    np.savez(path2, format=np.array("something/else"))
    with pytest.raises(ValueError, match=r"is not a landsim landscape"):
        LandscapeSpec.load_npz(path2)
