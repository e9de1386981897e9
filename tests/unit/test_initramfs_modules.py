"""The scenario's modules travel in the initramfs, uncompressed, with their load order;
they are part of the image's cache key; init loads them in that order."""
from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import pytest
from module_fakes import fake_module

from harness.guest.initramfs import BUSYBOX, base_initramfs, module_entries
from kernels.modules import Module

pytestmark = pytest.mark.skipif(not BUSYBOX.exists(), reason="busybox-static not installed")


def _module(name: str, depends: tuple[str, ...] = ()) -> Module:
    return Module(name, Path(f"/x/{name}.ko.xz"), depends, "6.1.0-99-amd64", fake_module(name))


def _unpack(image: Path, dest: Path) -> Path:
    dest.mkdir()
    subprocess.run(["cpio", "-id", "--quiet"], input=gzip.decompress(image.read_bytes()), cwd=dest, check=True)
    return dest


def test_modules_and_load_order_are_in_the_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMHP_CACHE", str(tmp_path / "cache"))
    modules = (_module("virtio_ring"), _module("virtio", ("virtio_ring",)), _module("virtio_mem", ("virtio",)))
    root = _unpack(base_initramfs(more=module_entries(modules)), tmp_path / "root")
    assert (root / "lib/modules/load.list").read_text() == "virtio_ring\nvirtio\nvirtio_mem\n"
    assert (root / "lib/modules/virtio_mem.ko").read_bytes() == fake_module("virtio_mem")
    plain = _unpack(base_initramfs(), tmp_path / "plain")
    assert not (plain / "lib" / "modules").exists()


def test_modules_are_part_of_the_cache_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMHP_CACHE", str(tmp_path / "cache"))
    ring, virtio = _module("virtio_ring"), _module("virtio", ("virtio_ring",))
    def image(*modules: Module) -> Path:
        return base_initramfs(more=module_entries(modules))
    images = {image(), image(ring), image(ring, virtio), image(virtio, ring)}
    assert len(images) == 4
    assert image(ring) == image(ring)


def test_init_loads_the_listed_modules_in_order(tmp_path: Path) -> None:
    # init's module loop, run by busybox sh with insmod a shell function (busybox sh would
    # prefer its own applet to a file in PATH) that records its argument.
    init = (Path(__file__).parents[2] / "harness" / "guest" / "init").read_text()
    loop = init[init.index("if [ -f /lib/modules/load.list ]"):init.index("exec /bin/sh /agent.sh")]
    loop = loop.replace("/lib/modules/", f"{tmp_path}/")
    (tmp_path / "load.list").write_text("virtio_ring\nvirtio_mem\n")
    fake = 'insmod() { echo "$1" >> "$LOG"; [ "${1##*/}" != virtio_mem.ko ]; }\n'
    env = {"PATH": "/usr/bin:/bin", "LOG": str(tmp_path / "log")}
    out = subprocess.run([str(BUSYBOX), "sh", "-c", fake + loop], env=env, capture_output=True, text=True,
                         check=True)
    assert (tmp_path / "log").read_text() == f"{tmp_path}/virtio_ring.ko\n{tmp_path}/virtio_mem.ko\n"
    assert out.stdout == "memhp-init: loaded virtio_ring\nmemhp-init: insmod virtio_mem failed\n"
