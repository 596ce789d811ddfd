"""Files named by a job, confined to one directory: the service's ``--data-root``.

A real job run by the service may name data files (and, later, checkpoints) only by paths
relative to the data root its server was started with; anything that resolves outside it
(an absolute path, ``..``, a symbolic link pointing out) is refused with
:class:`PathOutsideRoot`, before anything is opened. The root reaches the torch worker as
the environment variable :data:`DATA_ROOT_ENV`; without it (the library, ``landsim
reproduce``) paths are used as given.

Plug-in authors mark a setting that names a file with ``field(default="",
metadata={"path": True})`` and open it through :func:`data_path`.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATA_ROOT_ENV", "PathOutsideRoot", "resolve_under", "data_path", "data_root"]

#: The environment variable that holds the data root of the process (set by the server
#: for its torch worker).
DATA_ROOT_ENV = "LANDSIM_DATA_ROOT"


class PathOutsideRoot(PermissionError):
    """A path that is absolute or resolves outside the data root."""


def resolve_under(root: str | os.PathLike, name: str) -> Path:
    """``root / name``, resolved (symbolic links followed), if it stays inside ``root``.

    Parameters
    ----------
    root : path
        The data root (must exist).
    name : str
        A path relative to it, e.g. ``"mnist/train-images-idx3-ubyte.gz"``.

    Returns
    -------
    Path
        The resolved absolute path (it need not exist).

    Raises
    ------
    PathOutsideRoot
        ``name`` is empty, absolute, contains NUL, or resolves outside ``root`` (through
        ``..`` or a symbolic link).
    """
    if not isinstance(name, str) or not name or "\x00" in name:
        raise PathOutsideRoot(f"a data path must be a non-empty relative path, got {name!r}")
    if os.path.isabs(name):
        raise PathOutsideRoot(f"{name!r} is absolute: give a path relative to the data root")
    base = Path(root).resolve(strict=True)
    target = (base / name).resolve(strict=False)
    if target != base and base not in target.parents:
        raise PathOutsideRoot(f"{name!r} resolves outside the data root ({target} is not "
                              f"under {base})")
    return target


def data_root() -> Path | None:
    """The data root of this process (:data:`DATA_ROOT_ENV`), or None (unset or empty)."""
    value = os.environ.get(DATA_ROOT_ENV)
    return Path(value) if value else None


def data_path(name: str | os.PathLike) -> Path:
    """Where to open the file a config names.

    Under the data root when one is set (:func:`resolve_under`); ``name`` as given when
    :data:`DATA_ROOT_ENV` is unset (the library, ``landsim reproduce``); refused when it is
    set but empty (a service worker whose server has no data root).

    Raises
    ------
    PathOutsideRoot
        As :func:`resolve_under`, or no file may be opened here.
    """
    if DATA_ROOT_ENV not in os.environ:
        return Path(name)
    root = data_root()
    if root is None:
        raise PathOutsideRoot(f"this process may not open data files (its server has no "
                              f"--data-root), got {os.fspath(name)!r}")
    return resolve_under(root, os.fspath(name))
