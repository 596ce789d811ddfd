"""The one SQLite database of a landsim server: ``<data_dir>/landsim.sqlite3`` in WAL mode.

Everything the server stores is owner-only, whatever the process's umask: the
directories it creates are made mode 0700 (:func:`private_dir`) and its files 0600 (the
database is created 0600 before SQLite opens it, and SQLite gives its ``-wal`` and
``-shm`` files the database file's mode), so other users of a shared machine cannot read
jobs, results or landscapes. :func:`secure_data_dir` also tightens an existing data
directory that others may enter.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import time
from pathlib import Path

__all__ = ["DB_NAME", "DIR_MODE", "FILE_MODE", "connect", "private_dir", "private_file",
           "secure_data_dir"]

DB_NAME = "landsim.sqlite3"
#: Mode of every directory the server creates under (and including) its data directory.
DIR_MODE = 0o700
#: Mode of every file the server writes there.
FILE_MODE = 0o600

_log = logging.getLogger(__name__)


def private_dir(path: str | Path) -> Path:
    """Create ``path`` and its missing parents as owner-only (0700) directories.

    Directories that exist already keep their mode. The mode is set with ``chmod`` right
    after each ``mkdir``, so the umask does not matter. Returns ``path`` as a Path.
    """
    path = Path(path)
    missing = []
    p = path
    while not p.is_dir():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for p in reversed(missing):
        try:
            os.mkdir(p, DIR_MODE)
        except FileExistsError:
            if not p.is_dir():
                raise
            continue  # made by another process meanwhile: its creator set the mode
        os.chmod(p, DIR_MODE)
    return path


def private_file(path: str | Path) -> Path:
    """Make the existing file ``path`` owner-only (0600); returns it as a Path."""
    os.chmod(path, FILE_MODE)
    return Path(path)


def secure_data_dir(path: str | Path) -> Path:
    """Create the data directory owner-only, or tighten an existing one to 0700.

    An existing directory that its group or others may read or enter (as older servers
    left it) is made 0700 with a warning, so nothing below it is reachable by other
    users. Returns ``path`` as a Path.
    """
    path = Path(path)
    if not path.is_dir():
        return private_dir(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, mode & ~0o077 | 0o700)
        _log.warning("data directory %s was mode %04o, open to other users; made it %04o",
                     path, mode, mode & ~0o077 | 0o700)
    return path


def _create_private(path: Path) -> None:
    """Create ``path`` as an empty 0600 file unless it exists (an empty file is a valid
    empty SQLite database)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def _wal(conn: sqlite3.Connection, timeout_s: float) -> None:
    """Switch to WAL mode, retrying while another process holds the lock: SQLite answers
    a journal-mode change on a fresh database with "database is locked" at once, without
    its busy wait, when another connection (a second server process, ``--processes``)
    opens it at the same moment."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def connect(data_dir: str | Path, timeout_s: float = 30.0) -> sqlite3.Connection:
    """Open (creating if needed) the server database under ``data_dir``.

    A missing data directory is created 0700 and a missing database file 0600 (its
    ``-wal`` and ``-shm`` files follow). The connection is in WAL mode (readers never
    block the writer), waits up to ``timeout_s`` for a lock, enforces foreign keys and may
    be used from any thread (callers serialise their own use of one connection).
    """
    path = private_dir(data_dir)
    _create_private(path / DB_NAME)
    conn = sqlite3.connect(path / DB_NAME, timeout=timeout_s, check_same_thread=False,
                           isolation_level=None)
    _wal(conn, timeout_s)
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
    return conn
