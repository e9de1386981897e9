"""A Debian kernel's modules, kept in the cache beside its entry: only the kept modules
and their dependencies (found by reading the modules: the package has no modules.dep),
only from [usr/]lib/modules/<release>/, from one package or from 7.x's two."""
from __future__ import annotations

import lzma
import shutil
import subprocess
from pathlib import Path

import pytest
from module_fakes import fake_module

from harness.errors import InfrastructureError
from kernels.debian_modules import entry_covers, extract_modules

RELEASE = "6.1.0-99-amd64"
VERMAGIC = f"{RELEASE} SMP preempt mod_unload modversions"

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb not installed")


def pack(workdir: Path, name: str, files: dict[str, bytes]) -> Path:
    root = workdir / name
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: 1\nArchitecture: amd64\nMaintainer: t <t@example.org>\nDescription: x\n")
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    deb = workdir / f"{name}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-b", str(root), str(deb)], check=True,
                   capture_output=True)
    return deb


def module_files(moddir: str) -> dict[str, bytes]:
    files = {"virtio_ring.ko": ("virtio_ring", ""), "virtio.ko.xz": ("virtio", "virtio_ring"),
             "virtio_pci.ko": ("virtio_pci", "virtio"), "virtio_balloon.ko": ("virtio_balloon", "virtio"),
             "virtio_mem.ko.xz": ("virtio_mem", "virtio")}
    out = {}
    for name, (modname, depends) in files.items():
        image = fake_module(modname, depends, VERMAGIC)
        out[f"{moddir}/kernel/drivers/virtio/{name}"] = lzma.compress(image) if name.endswith(".xz") else image
    return out


def lists(moddir: str) -> dict[str, bytes]:
    order = "".join(f"kernel/drivers/virtio/{n}.ko\n" for n in ("virtio_ring", "virtio", "virtio_pci",
                                                               "virtio_balloon", "virtio_mem"))
    return {f"{moddir}/modules.order": order.encode(),
            f"{moddir}/modules.builtin": b"kernel/drivers/base/firmware_loader.ko\n"}


EXPECTED = ["kernel/drivers/virtio/virtio.ko.xz", "kernel/drivers/virtio/virtio_mem.ko.xz",
            "kernel/drivers/virtio/virtio_pci.ko", "kernel/drivers/virtio/virtio_ring.ko",
            "modules.builtin", "modules.order"]


def _written(dest: Path) -> list[str]:
    return sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())


def test_kept_modules_and_their_dependencies_only(tmp_path: Path) -> None:
    moddir = f"lib/modules/{RELEASE}"
    deb = pack(tmp_path, "image", {**module_files(moddir), **lists(moddir), "usr/lib/virtio_mem.ko": b"decoy"})
    dest = tmp_path / "out"
    dest.mkdir()
    kept = extract_modules([deb], RELEASE, dest, ["virtio_mem", "virtio_pci"])
    assert kept == {"virtio_mem", "virtio_pci", "virtio", "virtio_ring"}  # virtio_ring: a second pass
    assert _written(dest) == EXPECTED


def test_split_packages_merged_usr(tmp_path: Path) -> None:
    """7.x: the lists in linux-base, the .ko files in linux-modules, under usr/lib/."""
    moddir = f"usr/lib/modules/{RELEASE}"
    base = pack(tmp_path, "base", lists(moddir))
    mods = pack(tmp_path, "modules", module_files(moddir))
    dest = tmp_path / "out"
    dest.mkdir()
    assert extract_modules([base, mods], RELEASE, dest, ["virtio_mem", "virtio_pci"]) == {
        "virtio_mem", "virtio_pci", "virtio", "virtio_ring"}
    assert _written(dest) == EXPECTED


def test_no_module_lists_cannot_test(tmp_path: Path) -> None:
    deb = pack(tmp_path, "image", module_files(f"lib/modules/{RELEASE}"))
    with pytest.raises(InfrastructureError, match=f"no lib/modules/{RELEASE}/modules.builtin"):
        extract_modules([deb], RELEASE, tmp_path, ["virtio_mem"])


def test_entry_made_for_fewer_modules_does_not_cover_more(tmp_path: Path) -> None:
    entry = tmp_path / "entry"
    entry.mkdir()
    assert not entry_covers(entry, ["virtio_mem"])
    (entry / "meta.json").write_text('{"package": "p", "version": "1"}')  # made before "wanted" was kept
    assert entry_covers(entry, ["virtio_mem", "virtio_pci"])
    assert not entry_covers(entry, ["virtio_mem", "cxl_pci"])
    (entry / "meta.json").write_text('{"wanted": ["cxl_pci", "virtio_mem"]}')
    assert entry_covers(entry, ["virtio_mem", "cxl_pci"])
