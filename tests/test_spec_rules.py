"""The single rules of landsim.spec and landsim.seeding: one door per value.

``check_n_short`` (s in [1, D - 1]), ``EPS1_DEFAULT`` (the eps1 default) and
``check_seed`` (an integer in [0, 2^63 - 1], plus what a caller accepts besides).
"""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

from landsim import _checks, seeding, spec
from landsim.seeding import SEED_MAX, check_seed
from landsim.spec import EPS1_DEFAULT, WedgeSpec, check_n_short, random_landscape


# ------------------------------------------------------------------ n_short
@pytest.mark.parametrize("dim, s", [(2, 1), (12, 1), (12, 11), (12, np.int64(5))])
def test_n_short_in_range_accepted(dim, s):
    out = check_n_short(s, dim)
    assert out == int(s) and type(out) is int


@pytest.mark.parametrize("dim, s, shown", [(12, 0, "0"), (12, 12, "12"), (12, 13, "13"),
                                           (12, -1, "-1"), (12, np.int64(12), "12"),
                                           (12, 2.0, "2.0"), (12, True, "True"),
                                           (12, "3", "'3'"), (1, 1, "1")])
def test_n_short_out_of_range_refused(dim, s, shown):
    msg = re.escape(f"n_short must be an integer in [1, dim - 1 = {dim - 1}] (a wedge needs "
                    f"at least one long direction), got {shown}")
    with pytest.raises(ValueError, match=msg):
        check_n_short(s, dim)


def test_n_short_error_names_the_argument():
    with pytest.raises(ValueError, match=r"^config.n_short must be an integer in \[1, "):
        check_n_short(7, 7, name="config.n_short")


def test_wedge_and_random_landscape_use_the_n_short_rule():
    with pytest.raises(ValueError, match=r"dim - 1 = 4\] .*got 5"):
        WedgeSpec(dim=5, eps0=0.0, eps1=0.0, short_axes=[0, 1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"dim - 1 = 4\] .*got 5"):
        WedgeSpec(dim=5, eps0=0.0, eps1=0.0, short_frame=np.eye(5))
    for kind in ("axis", "rotated"):
        with pytest.raises(ValueError, match=r"^n_short must be an integer in \[1, dim - 1 = 4\]"):
            random_landscape(5, 2, 5, kind=kind)
        assert random_landscape(5, 2, 4, kind=kind).wedges[0].n_long == 1


# ------------------------------------------------------------------ eps1 default
def test_eps1_default_is_the_one_constant():
    assert EPS1_DEFAULT == 0.05
    default = inspect.signature(random_landscape).parameters["eps1"].default
    assert default is EPS1_DEFAULT
    assert all(w.eps1 == EPS1_DEFAULT for w in random_landscape(6, 3, 2).wedges)


# ------------------------------------------------------------------ seeds
@pytest.mark.parametrize("seed", [0, 1, np.uint32(7), np.int64(2**40), SEED_MAX])
def test_integer_seeds_accepted_as_int(seed):
    out = check_seed(seed)
    assert out == int(seed) and type(out) is int


@pytest.mark.parametrize("seed", [-1, SEED_MAX + 1, 2**64, True, 1.0, "3", None,
                                  np.random.SeedSequence(1), np.random.default_rng(1)])
def test_plain_seed_rule_refuses(seed):
    msg = re.escape(f"seed must be an integer in [0, {SEED_MAX}], got {seed!r}")
    with pytest.raises(ValueError, match=msg):
        check_seed(seed)


def test_seed_rule_extras_pass_only_where_accepted():
    ss, gen = np.random.SeedSequence(3), np.random.default_rng(3)
    assert check_seed(ss, sequence=True) is ss
    assert check_seed(gen, generator=True) is gen
    assert check_seed(None, none=True) is None
    msg = re.escape(f"my_seed must be None, an integer in [0, {SEED_MAX}], a "
                    "numpy.random.SeedSequence or a numpy.random.Generator, got -2")
    with pytest.raises(ValueError, match=msg):
        check_seed(-2, "my_seed", sequence=True, generator=True, none=True)
    msg = re.escape(f"seed must be an integer in [0, {SEED_MAX}] or a "
                    "numpy.random.SeedSequence, got ")
    with pytest.raises(ValueError, match=msg):
        check_seed(gen, sequence=True)


@pytest.mark.parametrize("call", [
    lambda s: seeding.as_sequence(s),
    lambda s: seeding.replicate_sequence(s, 0),
    lambda s: _checks.as_generator(s),
    lambda s: spec.random_landscape(4, 1, 1, seed=s),
])
@pytest.mark.parametrize("bad", [-1, SEED_MAX + 1, True, "x"])
def test_every_seed_door_applies_the_one_rule(call, bad):
    with pytest.raises(ValueError, match=re.escape(f"an integer in [0, {SEED_MAX}]")):
        call(bad)


def test_checks_does_not_import_spec():
    """The import circle spec <-> _checks is broken: _checks needs nothing from spec."""
    source = inspect.getsource(_checks)
    assert "spec" not in re.findall(r"^\s*from\s+\.(\w*)\s+import", source, re.M)
    assert "import spec" not in source
