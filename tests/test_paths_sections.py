"""The random 2-D sections moved from landsim.paths to landsim.sections: the old names
warn and return the same objects, and paths keeps its own names without a warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import landsim
from landsim import paths, sections

MOVED = ["PlaneSection", "RadialSection", "SECTION_CHUNK", "SECTION_MAX_FLOATS",
         "plane_section", "radial_section", "random_plane"]


@pytest.mark.parametrize("name", MOVED)
def test_old_paths_names_warn_and_return_the_same_object(name):
    with pytest.warns(DeprecationWarning, match=rf"landsim.paths.{name} moved to "
                                                rf"landsim.sections.{name}"):
        old = getattr(paths, name)
    assert old is getattr(sections, name)
    with pytest.warns(DeprecationWarning):
        exec(f"from landsim.paths import {name} as imported", ns := {})
    assert ns["imported"] is getattr(sections, name)


def test_paths_keeps_its_own_names_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in paths.__all__:
            getattr(paths, name)
    assert not set(MOVED) & set(paths.__all__)
    assert set(MOVED) <= set(sections.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        paths.nonexistent  # noqa: B018


def test_old_and_new_paths_compute_the_same_section():
    spec = landsim.random_landscape(8, 2, 3, eps0=0.1, seed=1)
    e1, e2 = sections.random_plane(8, seed=2)
    with pytest.warns(DeprecationWarning):
        old = paths.plane_section(spec, np.zeros(8), e1, e2, resolution=5)
    new = sections.plane_section(spec, np.zeros(8), e1, e2, resolution=5)
    np.testing.assert_array_equal(old.loss, new.loss)
