"""Unit checks of the request guards: the one id format, the divergence guard of Descend
and the simplex grid's bounded point count."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from landsim_server.descent_guard import DIVERGED_LOSS, DivergenceGuard
from landsim_server.errors import InvalidArgument
from landsim_server.landscape_sections import _grid_points
from landsim_server.request_checks import ID_PATTERN, check_id, quoted


@given(st.text(max_size=80))
def test_an_accepted_id_is_a_plain_file_name(value):
    try:
        check_id(value, "job_id")
    except InvalidArgument as exc:
        assert exc.field == "job_id" and len(exc.description) < 600  # repr: <= 10 per char
        return
    assert ID_PATTERN.fullmatch(value) and value.isalnum() and value == value.lower()
    assert not any(c in value for c in "./\\\x00") and len(value) == 32


def test_a_long_id_is_quoted_cut():
    text = quoted("x" * 100_000)
    assert len(text) < 100 and "(100000 characters)" in text
    assert quoted("abc") == "'abc'"
    with pytest.raises(InvalidArgument):
        check_id("a" * 32 + "\n", "job_id")


def _guard(X0=None):
    return DivergenceGuard("init.radius", threading.Event(), np.ones((2, 3)) if X0 is None
                           else X0)


def test_guard_stops_at_the_first_diverged_loss():
    guard = _guard()
    assert guard(0, np.array([1.0, 2.0])) and guard.error() is None
    assert guard(1, np.array([1.0, DIVERGED_LOSS]))
    assert not guard(2, np.array([1.0, math.inf]))
    err = guard.error()
    assert err.field == "options.lr" and "diverged at step 2: run 1" in err.description
    assert not _guard()(5, np.array([math.nan]))


def test_guard_blames_a_far_start_and_reports_overflow_at_the_next_step():
    far = _guard(np.full((1, 3), 1e200))
    assert far(0, np.zeros(1))
    err = far.failure(ValueError("X must be finite"))
    assert err.field == "init.radius" and "diverged at step 1" in err.description
    assert _guard().failure(ValueError("lr must be > 0")).field == "options"


def test_guard_stops_when_the_call_ends():
    guard = _guard()
    guard.stop.set()
    assert not guard(0, np.zeros(2)) and guard.error() is None


@pytest.mark.parametrize("m, res", [(1, 1), (3, 4), (10, 10), (5, 1), (1, 50)])
def test_grid_points_is_the_binomial(m, res):
    assert _grid_points(m, res, 10**12) == math.comb(res + m - 1, m - 1)


def test_grid_points_stops_past_the_cap_quickly():
    assert _grid_points(10**6, 2**62, 1000) == 1001
    assert _grid_points(0, 4, 1000) == 1  # empty vertices are refused before this
