"""Deprecated alias of :mod:`landsim_wire.chunks` (copy-free NdArrayChunk messages).

``import landsim.wire`` and ``from landsim.wire import encode_chunk`` (and the other names)
keep working for one release, giving the objects of :mod:`landsim_wire.chunks` with a
:class:`DeprecationWarning`. Import from ``landsim_wire.chunks`` instead.
"""

from __future__ import annotations

import warnings

from landsim_wire import chunks as _chunks

__all__ = list(_chunks.__all__)


def __getattr__(name: str):
    if name.startswith("__") or not hasattr(_chunks, name):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(f"landsim.wire.{name} moved to landsim_wire.chunks.{name}; import it from "
                  "there (the old name goes away in the next release)", DeprecationWarning,
                  stacklevel=2)
    return getattr(_chunks, name)
