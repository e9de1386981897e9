"""A suite's cached index: one SQLite file per suite, replaced whole by a rename.

SQLite (not JSON) because a run asks for a few names out of 77,000 packages: reading
the names alone takes a tenth of the time of loading the whole index.
"""
from __future__ import annotations

import json
import os
import re
import sqlite3
import tempfile
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from debarchive.index import Row
from debarchive.transfer import PART_PREFIX


@dataclass(frozen=True)
class SuiteIndex:
    """A suite's cached index: what its signed Release said, and where the rows are."""

    suite: str
    signers: tuple[str, ...]
    date: str
    valid_until: str
    fetched: float
    packages_sha256: str
    path: Path

    @property
    def expired(self) -> bool:
        """Past the ``Valid-Until`` of its signed Release."""
        return bool(self.valid_until) and datetime.fromisoformat(self.valid_until) < datetime.now(timezone.utc)

    def rows(self, pattern: re.Pattern[str]) -> list[Row]:
        """The rows whose package name ``pattern`` matches entirely."""
        with closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)) as con:
            names = [n for (n,) in con.execute("SELECT DISTINCT name FROM packages") if pattern.fullmatch(n)]
            rows: list[Row] = []
            for name in names:
                rows += con.execute("SELECT name, version, filename, sha256, size FROM packages "
                                    "WHERE name = ?", (name,)).fetchall()
            return rows


def read(path: Path) -> SuiteIndex | None:
    """The index stored at ``path``; None if absent or unreadable (it is fetched anew)."""
    if not path.is_file():
        return None
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
            (text,) = con.execute("SELECT value FROM meta WHERE key = 'release'").fetchone()
        meta = json.loads(text)
        return SuiteIndex(str(meta["suite"]), tuple(meta["signers"]), str(meta["date"]),
                          str(meta["valid_until"]), float(meta["fetched"]), str(meta["packages_sha256"]), path)
    except (sqlite3.Error, ValueError, KeyError, TypeError):
        return None


def write(path: Path, meta: dict[str, object], rows: Iterable[Row]) -> SuiteIndex:
    """Store ``rows`` and ``meta`` at ``path`` (atomically: a reader sees the old or the new)."""
    fd, name = tempfile.mkstemp(prefix=PART_PREFIX, dir=path.parent)
    os.close(fd)
    try:
        with closing(sqlite3.connect(name)) as con:
            con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            con.execute("CREATE TABLE packages (name TEXT, version TEXT, filename TEXT, sha256 TEXT, size INTEGER)")
            con.execute("INSERT INTO meta VALUES ('release', ?)", (json.dumps(meta),))
            con.executemany("INSERT INTO packages VALUES (?, ?, ?, ?, ?)", rows)
            con.execute("CREATE INDEX packages_name ON packages (name)")
            con.commit()
        os.replace(name, path)
    finally:
        Path(name).unlink(missing_ok=True)
    found = read(path)
    assert found is not None, path
    return found


def update_meta(index: SuiteIndex, meta: dict[str, object]) -> SuiteIndex:
    """``index`` with a new Release's ``meta`` and the same rows (one SQLite transaction)."""
    with closing(sqlite3.connect(index.path)) as con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'release'", (json.dumps(meta),))
        con.commit()
    found = read(index.path)
    assert found is not None, index.path
    return found
