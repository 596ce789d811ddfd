"""Stored landscapes: a table in the server's SQLite database plus one NPZ file each.

Layout under ``data_dir``::

    landsim.sqlite3            table ``landscapes`` (id, created_ns, dim, n_wedges, sha256,
                               meta json)
    landscapes/<id>.npz        the spec (LandscapeSpec.save_npz, no pickles)

Like everything the server stores, the directory is owner-only (0700) and the files are
0600 (:mod:`landsim_server.db`).

The id is derived from the spec's content (:func:`landscape_id`), so creating the same
spec twice stores it once. The file's SHA-256 is kept in the row and verified whenever
the file is loaded; a mismatch is :class:`~landsim_server.errors.DataLoss`. Loaded specs
are kept in a small LRU cache (the library caches its packed kernel arrays per spec
object, so keeping the object alive keeps repeated calls fast).

The store is safe to use from several threads of one process (one lock around the
connection and the files); other processes may read the same directory.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from landsim.spec import LandscapeSpec

from . import db
from .errors import DataLoss, InvalidArgument, NotFound

__all__ = ["LandscapeRecord", "LandscapeStore", "landscape_id", "RESOURCE_TYPE",
           "MAX_PAGE_SIZE", "DEFAULT_PAGE_SIZE"]

#: Resource type named in NOT_FOUND / DATA_LOSS details.
RESOURCE_TYPE = "landsim.v1.Landscape"
#: Largest page of :meth:`LandscapeStore.list`.
MAX_PAGE_SIZE = 1000
#: Page size used for 0.
DEFAULT_PAGE_SIZE = 100
_ID_RE = re.compile(r"^[0-9a-f]{32}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS landscapes (
    id TEXT PRIMARY KEY,
    created_ns INTEGER NOT NULL,
    dim INTEGER NOT NULL,
    n_wedges INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    meta TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS landscapes_created ON landscapes (created_ns, id);
"""


def landscape_id(spec: LandscapeSpec) -> str:
    """Content id of a spec: 32 hex digits of a SHA-256 over its canonical fields.

    Covers union, tau (as its exact float bits), D, and per wedge: eps0, eps1, the sorted
    short axes or the frame's float64 bytes, and the anchor (origin and all-zero anchors
    are the same). Equal specs get equal ids; any change of a value changes it.
    """
    h = hashlib.sha256()

    def put(tag: str, value: Any) -> None:
        h.update(tag.encode() + b"=")
        if isinstance(value, np.ndarray):
            h.update(f"{value.dtype.str}{value.shape}:".encode())
            h.update(np.ascontiguousarray(value).tobytes())
        elif isinstance(value, float):
            h.update(value.hex().encode())
        else:
            h.update(repr(value).encode())
        h.update(b";")

    put("format", "landsim.LandscapeSpec/1")
    put("union", spec.union)
    put("tau", float(spec.tau))
    put("dim", int(spec.dim))
    put("n_wedges", spec.n_wedges)
    for k, w in enumerate(spec.wedges):
        put(f"w{k}.eps0", float(w.eps0))
        put(f"w{k}.eps1", float(w.eps1))
        if w.short_axes is not None:
            put(f"w{k}.axes", np.asarray(w.short_axes, dtype="<i8"))
        else:
            put(f"w{k}.frame", np.asarray(w.short_frame, dtype="<f8"))
        put(f"w{k}.anchor", None if w.anchor is None else np.asarray(w.anchor, dtype="<f8"))
    return h.hexdigest()[:32]


@dataclass(frozen=True)
class LandscapeRecord:
    """One row of the landscapes table.

    Attributes
    ----------
    id : str
        32 hex digits (:func:`landscape_id`).
    created_ns : int
        Unix time of the first store, nanoseconds.
    dim, n_wedges : int
        D and K.
    sha256 : str
        Hex SHA-256 of the NPZ file.
    meta : dict
        JSON summary: ``kind``, ``union``, ``tau``, ``n_short`` (K ints) and, for
        generated landscapes, ``random`` (the generator parameters).
    """

    id: str
    created_ns: int
    dim: int
    n_wedges: int
    sha256: str
    meta: dict


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _encode_token(created_ns: int, id_: str) -> str:
    return base64.urlsafe_b64encode(f"{created_ns}:{id_}".encode()).decode().rstrip("=")


def _decode_token(token: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        created, id_ = raw.split(":")
        if not _ID_RE.match(id_):
            raise ValueError(id_)
        return int(created), id_
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument("page_token", f"not a token returned by ListLandscapes: "
                                            f"{token!r}") from exc


class LandscapeStore:
    """Create, get, list and delete landscapes under ``data_dir``.

    Parameters
    ----------
    data_dir : str or Path
        The server's data directory (shared with the job store).
    cache_size : int
        Specs kept loaded (LRU), >= 0.
    revalidate : bool
        Check on every cache hit that the landscape's row still exists (a primary-key
        SELECT) and drop the entry if not. Needed when other processes share the data
        directory (``--processes``): a landscape deleted through one of them must not be
        served from another's cache. Ids are content hashes, so a row that exists still
        describes the cached spec.
    """

    def __init__(self, data_dir: str | Path, cache_size: int = 32,
                 revalidate: bool = False) -> None:
        if cache_size < 0:
            raise ValueError(f"cache_size must be >= 0, got {cache_size}")
        self.data_dir = Path(data_dir)
        self.files = self.data_dir / "landscapes"
        db.private_dir(self.files)  # 0700, as is the data directory
        self._conn = db.connect(self.data_dir)
        self._conn.executescript(_SCHEMA)
        self._lock = threading.RLock()
        self._cache: OrderedDict[str, LandscapeSpec] = OrderedDict()
        self._cache_size = cache_size
        self.revalidate = bool(revalidate)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def check_id(id_: str, field: str = "id") -> str:
        """An id of the right form (32 lowercase hex digits) or InvalidArgument."""
        if not isinstance(id_, str) or not _ID_RE.match(id_):
            raise InvalidArgument(field, f"must be 32 lowercase hex digits, got {id_!r}")
        return id_

    def _path(self, id_: str) -> Path:
        return self.files / f"{id_}.npz"

    @staticmethod
    def _record(row: tuple) -> LandscapeRecord:
        id_, created, dim, n_wedges, sha, meta = row
        return LandscapeRecord(id_, int(created), int(dim), int(n_wedges), sha, json.loads(meta))

    def _hit(self, id_: str) -> LandscapeSpec | None:
        """The cached spec of ``id_`` (moved to the LRU end), or None; with revalidate,
        an entry whose row is gone is dropped first. Call with the lock held."""
        spec = self._cache.get(id_)
        if spec is None:
            return None
        if self.revalidate and self._conn.execute(
                "SELECT 1 FROM landscapes WHERE id = ?", (id_,)).fetchone() is None:
            del self._cache[id_]  # deleted through another process
            return None
        self._cache.move_to_end(id_)
        return spec

    def _remember(self, id_: str, spec: LandscapeSpec) -> None:
        if self._cache_size == 0:
            return
        self._cache[id_] = spec
        self._cache.move_to_end(id_)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    # ------------------------------------------------------------------ API
    def create(self, spec: LandscapeSpec, extra_meta: dict | None = None
               ) -> tuple[LandscapeRecord, bool]:
        """Store ``spec`` unless a landscape with its id exists.

        Parameters
        ----------
        spec : LandscapeSpec
        extra_meta : dict, optional
            JSON-ready entries added to the summary (e.g. ``{"random": {...}}``); ignored
            when the landscape exists already.

        Returns
        -------
        (LandscapeRecord, bool)
            The stored record and whether this call created it.
        """
        id_ = landscape_id(spec)
        meta = {"kind": spec.kind, "union": spec.union, "tau": float(spec.tau),
                "n_short": [w.n_short for w in spec.wedges], **(extra_meta or {})}
        with self._lock:
            row = self._conn.execute("SELECT * FROM landscapes WHERE id = ?", (id_,)).fetchone()
            if row is not None and self._path(id_).exists():
                return self._record(row), False
            fd, tmp = tempfile.mkstemp(dir=self.files, prefix=f".{id_}.", suffix=".npz")
            os.fchmod(fd, db.FILE_MODE)  # mkstemp makes it 0600 already: whatever the umask
            os.close(fd)
            try:
                spec.save_npz(tmp)
                sha = _file_sha256(Path(tmp))
                os.replace(tmp, self._path(id_))
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            created = time.time_ns() if row is None else int(row[1])
            self._conn.execute(
                "INSERT OR REPLACE INTO landscapes VALUES (?, ?, ?, ?, ?, ?)",
                (id_, created, spec.dim, spec.n_wedges, sha, json.dumps(meta)))
            self._remember(id_, spec)
            return LandscapeRecord(id_, created, spec.dim, spec.n_wedges, sha, meta), True

    def get(self, id_: str) -> LandscapeRecord:
        """The record of ``id_``; NotFound if there is none."""
        self.check_id(id_)
        with self._lock:
            row = self._conn.execute("SELECT * FROM landscapes WHERE id = ?", (id_,)).fetchone()
        if row is None:
            raise NotFound(RESOURCE_TYPE, id_)
        return self._record(row)

    def cached(self, id_: str) -> LandscapeSpec | None:
        """The spec of ``id_`` if it is loaded already, else None (no file I/O; with
        ``revalidate``, one primary-key SELECT)."""
        with self._lock:
            return self._hit(id_)

    def spec(self, id_: str) -> LandscapeSpec:
        """The spec of ``id_`` (cached; the file's checksum is verified on load)."""
        self.check_id(id_)
        with self._lock:
            cached = self._hit(id_)
            if cached is not None:
                return cached
            record = self.get(id_)
            path = self._path(id_)
            if not path.exists():
                raise DataLoss(RESOURCE_TYPE, id_, f"its spec file {path.name} is missing")
            sha = _file_sha256(path)
            if sha != record.sha256:
                raise DataLoss(RESOURCE_TYPE, id_, f"its spec file {path.name} has SHA-256 "
                                                   f"{sha}, expected {record.sha256}")
            try:
                spec = LandscapeSpec.load_npz(path)
            except (ValueError, OSError, KeyError) as exc:
                raise DataLoss(RESOURCE_TYPE, id_, f"its spec file cannot be read: {exc}"
                               ) from exc
            self._remember(id_, spec)
            return spec

    def list(self, page_size: int = 0, page_token: str = ""
             ) -> tuple[list[LandscapeRecord], str]:
        """One page of records, oldest first (ties by id).

        Parameters
        ----------
        page_size : int
            In [0, MAX_PAGE_SIZE]; 0 means DEFAULT_PAGE_SIZE.
        page_token : str
            The token returned with the previous page, or "" for the first.

        Returns
        -------
        (list of LandscapeRecord, str)
            The page and the next page's token ("" after the last page).
        """
        if isinstance(page_size, bool) or not 0 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidArgument("page_size", f"must be in [0, {MAX_PAGE_SIZE}], got "
                                               f"{page_size!r}")
        size = page_size or DEFAULT_PAGE_SIZE
        after = _decode_token(page_token) if page_token else (-1, "")
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM landscapes WHERE (created_ns, id) > (?, ?) "
                "ORDER BY created_ns, id LIMIT ?", (*after, size + 1)).fetchall()
        records = [self._record(r) for r in rows[:size]]
        more = len(rows) > size
        token = _encode_token(records[-1].created_ns, records[-1].id) if more else ""
        return records, token

    def delete(self, id_: str) -> None:
        """Remove ``id_`` (row, file and cache entry); NotFound if there is none."""
        self.check_id(id_)
        with self._lock:
            cur = self._conn.execute("DELETE FROM landscapes WHERE id = ?", (id_,))
            self._cache.pop(id_, None)
            if cur.rowcount == 0:
                raise NotFound(RESOURCE_TYPE, id_)
            self._path(id_).unlink(missing_ok=True)
