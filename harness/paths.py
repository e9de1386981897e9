"""Where memhp keeps its caches (kernels, initramfs images, built engines)."""
from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    root = os.environ.get("MEMHP_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "memhp"


def cache_dir(name: str) -> Path:
    path = cache_root() / name
    path.mkdir(parents=True, exist_ok=True)
    return path
