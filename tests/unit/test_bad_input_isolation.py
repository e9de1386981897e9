"""Concurrent initramfs builds (separate processes, one empty cache) all get the same,
complete image: the file lock lets one build and the others reuse it."""
from __future__ import annotations

import gzip
import multiprocessing
import subprocess
from pathlib import Path

import pytest

from harness.guest.initramfs import BUSYBOX


def _build(cache: str) -> str:
    import os

    os.environ["MEMHP_CACHE"] = cache
    from harness.guest.initramfs import base_initramfs

    return str(base_initramfs())


@pytest.mark.skipif(not BUSYBOX.exists(), reason="busybox-static not installed")
def test_concurrent_base_initramfs_builds_agree(tmp_path: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        paths = pool.map(_build, [str(tmp_path)] * 8)
    assert len(set(paths)) == 1
    image = Path(paths[0])
    listing = subprocess.run(["cpio", "-t", "--quiet"], input=gzip.decompress(image.read_bytes()),
                             capture_output=True, check=True).stdout.decode().split()
    assert {"init", "agent.sh", "bin/busybox"} <= set(listing)
    assert not list(image.parent.glob("*.partial"))
