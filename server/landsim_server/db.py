"""The one SQLite database of a landsim server: ``<data_dir>/landsim.sqlite3`` in WAL mode."""

from __future__ import annotations

import sqlite3
from pathlib import Path

DB_NAME = "landsim.sqlite3"


def connect(data_dir: str | Path, timeout_s: float = 30.0) -> sqlite3.Connection:
    """Open (creating if needed) the server database under ``data_dir``.

    The connection is in WAL mode (readers never block the writer), waits up to
    ``timeout_s`` for a lock, enforces foreign keys and may be used from any thread
    (callers serialise their own use of one connection).
    """
    path = Path(data_dir)
    path.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path / DB_NAME, timeout=timeout_s, check_same_thread=False,
                           isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
    return conn
