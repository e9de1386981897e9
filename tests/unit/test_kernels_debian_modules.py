"""A Debian kernel's modules, kept in the cache beside its entry: only the kept modules
and their dependencies (found by reading the modules: the package has no modules.dep),
only from lib/modules/<release>/, downloaded once."""
from __future__ import annotations

import json
import lzma
import shutil
from pathlib import Path

import pytest
from module_fakes import fake_module
from test_kernels_cache import PKG, RELEASE, CopyDownloader, pack, package_root, refuse

import kernels
from harness.errors import BadInputError, InfrastructureError
from kernels.debian_modules import extract_modules, fetch_module_tree, module_entry

VERMAGIC = f"{RELEASE} SMP preempt mod_unload modversions"

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb not installed")


def build_deb(workdir: Path, with_virtio_mem: bool = True) -> Path:
    root = package_root(workdir)
    mods = root / "lib" / "modules" / RELEASE
    virtio = mods / "kernel" / "drivers" / "virtio"
    virtio.mkdir(parents=True)
    files = {"virtio_ring.ko": ("virtio_ring", ""), "virtio.ko.xz": ("virtio", "virtio_ring"),
             "virtio_pci.ko": ("virtio_pci", "virtio"), "virtio_balloon.ko": ("virtio_balloon", "virtio")}
    if with_virtio_mem:
        files["virtio_mem.ko.xz"] = ("virtio_mem", "virtio")
    for name, (modname, depends) in files.items():
        image = fake_module(modname, depends, VERMAGIC)
        (virtio / name).write_bytes(lzma.compress(image) if name.endswith(".xz") else image)
    (mods / "modules.order").write_text("".join(f"kernel/drivers/virtio/{n.removesuffix('.xz')}\n" for n in files))
    (mods / "modules.builtin").write_text("kernel/drivers/base/firmware_loader.ko\n")
    # Same name outside lib/modules/<release>/: must not be taken.
    (root / "usr" / "lib").mkdir(parents=True)
    (root / "usr" / "lib" / "virtio_mem.ko").write_bytes(b"decoy")
    return pack(root, workdir)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MEMHP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "kernels"


def test_kept_modules_and_their_dependencies_only(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    kept = extract_modules(build_deb(tmp_path), RELEASE, dest, ["virtio_mem", "virtio_pci"])
    assert kept == {"virtio_mem", "virtio_pci", "virtio", "virtio_ring"}  # virtio_ring: a second pass
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert files == ["kernel/drivers/virtio/virtio.ko.xz", "kernel/drivers/virtio/virtio_mem.ko.xz",
                     "kernel/drivers/virtio/virtio_pci.ko", "kernel/drivers/virtio/virtio_ring.ko",
                     "modules.builtin", "modules.order"]


def test_fetched_once_then_reused_offline(tmp_path: Path, cache: Path) -> None:
    calls = tmp_path / "calls"
    tree = fetch_module_tree(PKG, CopyDownloader(build_deb(tmp_path), calls))
    assert tree.root == module_entry(PKG) == cache / "modules" / f"{PKG.package}_{PKG.version}"
    assert json.loads((tree.root / "meta.json").read_text())["modules"] == [
        "virtio", "virtio_mem", "virtio_pci", "virtio_ring"]
    again = fetch_module_tree(PKG, refuse)
    assert again.root == tree.root and calls.read_text() == f"{PKG.package}={PKG.version}\n"
    assert "virtio_balloon" in again.modular  # listed, though its file was not kept


def test_a_package_without_the_module_is_refused_naming_it(tmp_path: Path, cache: Path) -> None:
    tree = fetch_module_tree(PKG, CopyDownloader(build_deb(tmp_path, with_virtio_mem=False), tmp_path / "c"))
    kernel = kernels.Kernel("debian:6.1", tmp_path / "vmlinuz", None, None, None, RELEASE, (6, 1),
                            PKG.version, "debian")
    assert kernels.module_tree(kernel).root == tree.root
    with pytest.raises(BadInputError, match=f"kernel debian:6.1 \\({RELEASE}\\): module virtio_mem is missing"):
        kernels.needed_modules(kernel, ["virtio_pci", "virtio_mem"])


def test_an_undownloadable_package_cannot_test(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(InfrastructureError, match="offline"):
        fetch_module_tree(PKG, refuse)
    assert not module_entry(PKG).exists()


def test_fetching_a_debian_kernel_also_keeps_its_modules(tmp_path: Path, cache: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """``memhp kernels fetch`` leaves nothing for the first virtio-mem run to download."""
    kernel = kernels.Kernel("debian:6.1", tmp_path / "vmlinuz", None, None, None, RELEASE, (6, 1),
                            PKG.version, "debian")
    monkeypatch.setattr(kernels, "resolve", lambda spec: kernel)
    downloads = CopyDownloader(build_deb(tmp_path), tmp_path / "c")
    monkeypatch.setattr(kernels, "fetch_module_tree", lambda pkg: fetch_module_tree(pkg, downloads))
    assert kernels.fetch("debian:6.1") is kernel
    assert (module_entry(PKG) / "meta.json").exists()
