"""landsim.threads: the kernels' thread count behind a library function."""

from __future__ import annotations

import re
import threading

import pytest

from landsim import threads


def test_max_is_the_pool_size_and_the_count_is_within_it():
    top = threads.max_kernel_threads()
    assert isinstance(top, int) and top >= 1
    assert 1 <= threads.get_kernel_threads() <= top


def test_set_returns_the_previous_count():
    before = threads.get_kernel_threads()
    try:
        assert threads.set_kernel_threads(1) == before
        assert threads.get_kernel_threads() == 1
        top = threads.max_kernel_threads()
        assert threads.set_kernel_threads(top) == 1
        assert threads.get_kernel_threads() == top
    finally:
        threads.set_kernel_threads(before)


def test_context_manager_restores_also_after_an_exception():
    before = threads.get_kernel_threads()
    with threads.kernel_threads(1) as previous:
        assert previous == before
        assert threads.get_kernel_threads() == 1
    assert threads.get_kernel_threads() == before
    with pytest.raises(RuntimeError, match="inside"):
        with threads.kernel_threads(1):
            raise RuntimeError("inside")
    assert threads.get_kernel_threads() == before


def test_the_count_belongs_to_the_calling_thread():
    before = threads.get_kernel_threads()
    seen = []

    def other() -> None:
        with threads.kernel_threads(1):
            seen.append(threads.get_kernel_threads())

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen == [1]
    assert threads.get_kernel_threads() == before


@pytest.mark.parametrize("bad", [0, -1, "max+1", 1.5, True, "2", None])
def test_bad_counts_name_the_value_and_the_range(bad):
    top = threads.max_kernel_threads()
    value = top + 1 if bad == "max+1" else bad
    before = threads.get_kernel_threads()
    with pytest.raises(ValueError, match=rf"n must be an integer in \[1, {top}\].*got "
                                         rf"{re.escape(repr(value))}$"):
        threads.set_kernel_threads(value)
    with pytest.raises(ValueError, match=r"\[1, "):
        with threads.kernel_threads(value):
            pass  # pragma: no cover
    assert threads.get_kernel_threads() == before
