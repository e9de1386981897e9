"""The on-disk kernel cache: ``${MEMHP_CACHE:-~/.cache/memhp}/kernels/``.

Each entry is a directory published by one atomic rename once complete, so
readers never see half an entry; a per-entry file lock serialises fetchers.
"""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

from harness import paths as memhp_paths

META = "meta.json"


def cache_root() -> Path:
    """The kernels directory of the cache (not created)."""
    return memhp_paths.cache_root() / "kernels"


def is_complete(entry: Path) -> bool:
    """An entry is usable once its meta.json exists (it is written last)."""
    return (entry / META).is_file()


def entry_lock(entry: Path) -> FileLock:
    entry.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(entry) + ".lock")


@contextmanager
def staging(entry: Path) -> Iterator[Path]:
    """A scratch directory beside ``entry``; renamed to ``entry`` if the block succeeds."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
    tmp.chmod(0o755)  # mkdtemp's 0700 would hide a shared cache from other users
    try:
        yield tmp
        tmp.rename(entry)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
