"""Deprecated: the helpers that lived here moved.

``Progress``, ``Timer`` and ``report`` are in :mod:`landsim.experiment_kit`, ``line_fit`` in
:mod:`landsim.analysis`; the landscape validation is
:meth:`landsim.experiments._landscape.LandscapeParams.check_landscape`. The old names
still import from here, with a DeprecationWarning, for one release.
"""

from __future__ import annotations

import importlib
import warnings

_MOVED = {"Progress": "landsim.experiment_kit", "Timer": "landsim.experiment_kit",
          "report": "landsim.experiment_kit", "line_fit": "landsim.analysis"}


def __getattr__(name: str):
    if name == "check_landscape_fields":
        warnings.warn("landsim.experiments._common.check_landscape_fields is deprecated; "
                      "Configs derive from landsim.experiments._landscape.LandscapeParams",
                      DeprecationWarning, stacklevel=2)
        return _check_landscape_fields
    if name in _MOVED:
        warnings.warn(f"landsim.experiments._common.{name} moved to {_MOVED[name]}.{name}",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _check_landscape_fields(config, min_wedges: int = 1) -> None:
    """The landscape validation of :class:`LandscapeParams`, on any object with its fields."""
    from ._landscape import LandscapeParams

    class _View:
        dim, n_wedges, n_short = config.dim, config.n_wedges, config.n_short
        eps0, eps1 = config.eps0, config.eps1

        def min_wedges(self) -> int:
            return min_wedges

    LandscapeParams.check_landscape(_View())
