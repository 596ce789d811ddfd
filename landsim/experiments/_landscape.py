"""The landscape parameters every toy experiment's Config shares, validated in one place.

Each toy ``Config`` is a frozen dataclass that derives from :class:`LandscapeParams`, so
its constructor keywords, attribute names, field order and ``dataclasses.replace`` stay
those of a flat Config (the CLI and the job service build Configs from JSON objects of
field names). A Config re-declares a field to give it its own default and calls
:meth:`LandscapeParams.check_landscape` from its ``__post_init__``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._checks import int_at_least, real_in
from ..spec import EPS1_DEFAULT, check_n_short

__all__ = ["LandscapeParams"]


@dataclass(frozen=True)
class LandscapeParams:
    """The random wedge landscape of a toy experiment (docs/model.md, section 1).

    Attributes
    ----------
    dim : int
        Dimension D, >= 2.
    n_wedges : int
        Number K of wedges, >= :meth:`min_wedges`.
    n_short : int or tuple of int
        Short directions s per wedge, each in [1, D - 1] (:func:`landsim.spec.check_n_short`);
        a tuple where an experiment draws one landscape per value (E2).
    eps0 : float
        Width at long radius 0, >= 0.
    eps1 : float
        Width growth per unit long radius, >= 0 (default :data:`landsim.spec.EPS1_DEFAULT`;
        each experiment sets its own).
    """

    dim: int = 1000
    n_wedges: int = 4
    n_short: int = 100
    eps0: float = 0.01
    eps1: float = EPS1_DEFAULT

    def __post_init__(self) -> None:
        self.check_landscape()

    def min_wedges(self) -> int:
        """The least number of wedges the experiment needs (1 unless it says more)."""
        return 1

    def check_landscape(self) -> None:
        """THE validation of the landscape fields.

        Raises
        ------
        ValueError
            Naming the bad field, its value and the valid range: ``dim`` >= 2,
            ``n_wedges`` >= :meth:`min_wedges`, ``n_short`` (each value of a tuple) in
            [1, dim - 1], ``eps0`` and ``eps1`` >= 0.
        """
        int_at_least("dim", self.dim, 2)
        int_at_least("n_wedges", self.n_wedges, self.min_wedges())
        if isinstance(self.n_short, tuple):
            for i, s in enumerate(self.n_short):
                check_n_short(s, self.dim, f"n_short[{i}]")
        else:
            check_n_short(self.n_short, self.dim)
        for name in ("eps0", "eps1"):
            real_in(name, getattr(self, name), 0.0)
