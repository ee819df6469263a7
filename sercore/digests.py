"""Content digests of data files, computed once and remembered across processes.

A fingerprint of a corpus made of file sizes and modification times does not see two files whose
contents were swapped (same sizes, times set back): :func:`file_digests` gives the sha256 of each file's
bytes. Reading a whole corpus on every run would be slow, so each digest is remembered in
``<cache>/digests.sqlite3`` (:func:`sercore.paths.cache_dir`) under the file's absolute path, size,
modification time, inode and status-change time; the last one changes whenever a file's contents or
times are set (it cannot be set back by a user), so a remembered digest is used only for the very file
state it was computed from. Anything else is read again.

The store is only a shortcut: when it cannot be opened or written (a read-only or full disk), digests
are computed and not remembered.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path
from typing import Iterable

_SCHEMA = ("CREATE TABLE IF NOT EXISTS digests (path TEXT PRIMARY KEY, size INTEGER, mtime INTEGER, "
           "inode INTEGER, ctime INTEGER, sha256 TEXT)")


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _store_path() -> Path:
    from .paths import cache_dir

    return cache_dir() / "digests.sqlite3"


def _open() -> sqlite3.Connection | None:
    try:
        path = _store_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(str(path), timeout=30)
        con.execute(_SCHEMA)
        return con
    except (OSError, sqlite3.Error):
        return None


def _state(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns


def file_digests(paths: Iterable[str | os.PathLike]) -> dict[str, str]:
    """``{absolute path: sha256}`` of every file in ``paths``, read only where the remembered digest is
    not of the file's present state. A missing file raises ``FileNotFoundError`` naming it."""
    files = [os.path.abspath(os.fspath(p)) for p in paths]
    states = {}
    for f in files:
        states[f] = _state(os.stat(f))
    out: dict[str, str] = {}
    con = _open()
    known: dict[str, tuple] = {}
    if con is not None:
        try:
            for f in files:
                row = con.execute("SELECT size, mtime, inode, ctime, sha256 FROM digests WHERE path = ?",
                                  (f,)).fetchone()
                if row is not None:
                    known[f] = row
        except sqlite3.Error:
            known = {}
    fresh = []
    for f in files:
        row = known.get(f)
        if row is not None and tuple(row[:4]) == states[f]:
            out[f] = row[4]
        else:
            digest = sha256_file(f)
            if _state(os.stat(f)) != states[f]:       # changed while being read: read it again next time
                out[f] = digest
                continue
            out[f] = digest
            fresh.append((f, *states[f], digest))
    if con is not None:
        try:
            if fresh:
                with con:
                    con.executemany("INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?, ?, ?)", fresh)
        except sqlite3.Error:
            pass
        finally:
            con.close()
    return out


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of one file's bytes (remembered as :func:`file_digests` does)."""
    return next(iter(file_digests([path]).values()))
