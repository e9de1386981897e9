"""Debian package fetch into the cache: layout, metadata, locking, offline reuse.

The fake package is a real .deb built with ``dpkg-deb -b``; only the download step
is replaced, through ``fetch_package``'s downloader argument.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import shutil
import subprocess
from pathlib import Path

import pytest
from test_kernels_bzimage import FAKE_ELF, make_bzimage

import kernels
from harness.errors import InfrastructureError
from kernels.debian import DebianPackage, extract_boot_files, fetch_package

RELEASE = "6.1.0-99-amd64"
PKG = DebianPackage(f"linux-image-{RELEASE}-unsigned", "6.1.999-1")

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb not installed")


def package_root(workdir: Path) -> Path:
    """The tree of a fake kernel package, its control file written."""
    root = workdir / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {PKG.package}\nVersion: {PKG.version}\nArchitecture: amd64\n"
        "Maintainer: memhp tests <t@example.org>\nDescription: fake kernel\n")
    return root


def pack(root: Path, workdir: Path) -> Path:
    deb = workdir / f"{PKG.package}_{PKG.version}_amd64.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-b", str(root), str(deb)],
                   check=True, capture_output=True)
    return deb


def build_deb(workdir: Path, with_vmlinuz: bool = True) -> Path:
    root = package_root(workdir)
    boot = root / "boot"
    boot.mkdir()
    if with_vmlinuz:
        (boot / f"vmlinuz-{RELEASE}").write_bytes(make_bzimage(RELEASE))
    (boot / f"System.map-{RELEASE}").write_text("ffffffff81000000 T _text\nffffffff81000100 T _etext\n")
    (boot / f"config-{RELEASE}").write_text("CONFIG_NUMA=y\n")
    (root / "lib" / "modules" / RELEASE).mkdir(parents=True)
    (root / "lib" / "modules" / RELEASE / "modules.dep").write_text("")
    return pack(root, workdir)


class CopyDownloader:
    """Hands out a local .deb and records each call in ``log`` (one line per download)."""

    def __init__(self, deb: Path, log: Path) -> None:
        self.deb, self.log = deb, log

    def __call__(self, package: str, version: str, directory: Path) -> Path:
        with self.log.open("a") as fh:
            fh.write(f"{package}={version}\n")
        return Path(shutil.copy(self.deb, directory))


def refuse(package: str, version: str, directory: Path) -> Path:
    raise InfrastructureError(f"offline: cannot download {package}={version}")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MEMHP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "kernels"


def test_layout_and_meta(tmp_path: Path, cache: Path) -> None:
    deb = build_deb(tmp_path)
    entry = fetch_package(PKG, CopyDownloader(deb, tmp_path / "calls"))
    assert entry == cache / f"{PKG.package}_{PKG.version}"
    assert sorted(p.name for p in entry.iterdir()) == ["System.map", "config", "meta.json", "vmlinux", "vmlinuz"]
    meta = json.loads((entry / "meta.json").read_text())
    assert meta["package"] == PKG.package and meta["version"] == PKG.version
    assert meta["deb_sha256"] == hashlib.sha256(deb.read_bytes()).hexdigest()
    assert meta["vmlinuz_sha256"] == hashlib.sha256(make_bzimage(RELEASE)).hexdigest()
    assert (entry / "vmlinux").read_bytes() == FAKE_ELF
    assert [p.name for p in cache.iterdir() if p.name.startswith(".")] == []  # no staging left


def test_cached_entry_is_reused_offline(tmp_path: Path, cache: Path) -> None:
    fetch_package(PKG, CopyDownloader(build_deb(tmp_path), tmp_path / "calls"))
    entry = fetch_package(PKG, refuse)
    (kernel,) = kernels.list_kernels()
    assert kernel.bzimage == entry / "vmlinuz"
    assert (kernel.spec, kernel.release, kernel.version) == (f"debian:{RELEASE}", RELEASE, (6, 1))
    assert (kernel.package_version, kernel.source) == (PKG.version, "debian")
    assert kernel.system_map == entry / "System.map"


def test_failed_download_leaves_no_entry(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(InfrastructureError, match="offline: cannot download"):
        fetch_package(PKG, refuse)
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == []
    assert kernels.list_kernels() == []


def test_package_without_vmlinuz_is_infrastructure_error(tmp_path: Path) -> None:
    deb = build_deb(tmp_path, with_vmlinuz=False)
    with pytest.raises(InfrastructureError, match=f"no boot/vmlinuz-{RELEASE}"):
        extract_boot_files(deb, RELEASE, tmp_path)
    assert not (tmp_path / "vmlinuz").exists()


def test_only_boot_files_are_extracted(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    extract_boot_files(build_deb(tmp_path), RELEASE, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["System.map", "config", "vmlinuz"]


def _fetch_in_child(cache_dir: str, deb: str, calls: str, barrier: multiprocessing.synchronize.Barrier,
                    results: multiprocessing.Queue[str]) -> None:
    import os
    os.environ["MEMHP_CACHE"] = cache_dir
    barrier.wait()
    results.put(str(fetch_package(PKG, CopyDownloader(Path(deb), Path(calls)))))


def test_two_processes_fetch_once(tmp_path: Path, cache: Path) -> None:
    deb, calls = build_deb(tmp_path), tmp_path / "calls"
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    args = (str(cache.parent), str(deb), str(calls), barrier, results)
    procs = [ctx.Process(target=_fetch_in_child, args=args) for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    assert [proc.exitcode for proc in procs] == [0, 0]
    entry = cache / f"{PKG.package}_{PKG.version}"
    assert sorted([results.get(), results.get()]) == [str(entry), str(entry)]
    assert calls.read_text() == f"{PKG.package}={PKG.version}\n"
    assert (entry / "meta.json").is_file()


def test_local_build_tree_resolves_and_caches_vmlinux(tmp_path: Path, cache: Path) -> None:
    image = tmp_path / "linux" / "arch" / "x86" / "boot" / "bzImage"
    image.parent.mkdir(parents=True)
    image.write_bytes(make_bzimage("6.13.0-rc1+"))
    (tmp_path / "linux" / ".config").write_text("CONFIG_NUMA=y\n")
    kernel = kernels.resolve(str(image))
    assert (kernel.source, kernel.release, kernel.version) == ("local", "6.13.0-rc1+", (6, 13))
    assert kernel.config == tmp_path / "linux" / ".config"
    assert kernel.package_version is None and kernel.system_map is None
    assert kernel.vmlinux is not None and kernel.vmlinux.parent.parent == cache / "local"
    assert kernel.vmlinux.read_bytes() == FAKE_ELF
    assert kernels.list_kernels() == []  # local kernels are not listed as cached packages
