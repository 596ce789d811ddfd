"""Deprecated alias of :mod:`landsim_wire.v1` (the generated landsim.v1 protobuf code).

The generated modules moved to the ``landsim_wire`` package, which the server and the
light client share. ``import landsim.v1.landscape_pb2``, ``from landsim.v1 import
jobs_pb2`` and ``from landsim.v1.ndarray_pb2 import NdArray`` keep working for one
release: they give the very module objects of ``landsim_wire.v1`` (so messages and
descriptors are the same classes) and emit a :class:`DeprecationWarning`. Import from
``landsim_wire.v1`` instead.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

_NEW = "landsim_wire.v1"
#: The generated modules that ``landsim.v1`` used to hold.
_MODULES = frozenset({"jobs_pb2", "jobs_pb2_grpc", "landscape_pb2", "landscape_pb2_grpc",
                      "ndarray_pb2", "ndarray_pb2_grpc"})

__path__: list[str] = []  # a package with no files of its own: the finder below serves it


def _moved(name: str, stacklevel: int):
    """Warn (at the importing line) and return ``landsim_wire.v1.<name>``, recording it
    under its old name too, so that each old name warns once."""
    warnings.warn(f"landsim.v1.{name} moved to {_NEW}.{name}; import it from there "
                  "(the old name goes away in the next release)", DeprecationWarning,
                  stacklevel=stacklevel + 1)  # importlib's own frames are skipped
    module = importlib.import_module(f"{_NEW}.{name}")
    globals()[name] = module
    sys.modules.setdefault(f"{__name__}.{name}", module)
    return module


class _AliasLoader(importlib.abc.Loader):
    """Loads ``landsim.v1.<name>`` as the existing ``landsim_wire.v1.<name>`` module."""

    def create_module(self, spec):
        return _moved(spec.name.rpartition(".")[2], stacklevel=2)

    def exec_module(self, module) -> None:
        """Nothing to run: the module is already loaded under its new name."""


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Finds the moved generated modules under their old names."""

    def find_spec(self, fullname, path=None, target=None):
        package, _, name = fullname.rpartition(".")
        if package != __name__ or name not in _MODULES:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader())


# one finder, also when this module is executed again (e.g. after a sys.modules purge)
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__module__ != __name__]
sys.meta_path.insert(0, _AliasFinder())


def __getattr__(name: str):
    if name in _MODULES:
        return _moved(name, stacklevel=2)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
