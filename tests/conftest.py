"""Test-suite wide settings."""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests check behaviour, not speed (speed is for the benchmarks in scripts/): no
# per-example deadline, so a loaded CI machine cannot turn them flaky.
settings.register_profile("memhp", deadline=None)
settings.load_profile("memhp")


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """``small_tmpfs(bytes, inodes=None)``: a folder on a tmpfs of that size (and that many
    inodes, the root's included), the honest full disk (needs root and mount, as on the
    project's machines); unmounted after the test."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a size-limited tmpfs needs root and mount")
    mounted: list[Path] = []

    def mount(size: int, inodes: int | None = None) -> Path:
        folder = tmp_path / f"tmpfs{len(mounted)}"
        folder.mkdir()
        options = f"size={size}" + (f",nr_inodes={inodes}" if inodes else "")
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], check=True)
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", str(folder)], check=True)
