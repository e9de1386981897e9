"""A newer kernel by series name from Debian's real archive, into an empty cache: the
catalog finds it, the chain InRelease signature → Packages.xz → .deb verifies, and the
entry holds what the harness boots and reads. No boot here (other tests boot them)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import kernels
from debarchive import Archive
from kernels import bzimage, debian
from kernels.debian_catalog import LONGTERM, Layout
from kernels.modules import load_module
from kernels.spec import Pick

pytestmark = pytest.mark.integration


def test_latest_series_fetched_verified_and_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMHP_CACHE", str(tmp_path / "cache"))
    fresh = Archive()  # the host's mirror and keyring, an empty cache
    monkeypatch.setattr(debian, "default_archive", lambda: fresh)

    found = kernels.available()
    assert {"6.1", "6.12"} <= set(found.series())  # what the demo and the recorded boots use
    latest = found.series()[-1]
    assert found.resolve_alias(Pick.LTS) in LONGTERM
    signers = {index.suite: index.signers for index in fresh.indexes()}
    assert signers["trixie-backports"] and signers["bookworm"]  # every suite read was signed

    kernel = kernels.fetch(f"debian:{latest}")
    build = found.newest(latest)
    assert build is not None and kernel.release == build.release and kernel.version[0] >= 7
    entry = kernel.bzimage.parent
    meta = json.loads((entry / "meta.json").read_text())
    assert meta["layout"] == build.layout.name and [p["sha256"] for p in meta["packages"]] == [
        p.sha256 for p in build.packages]
    if build.layout is Layout.SPLIT:  # 7.x: image, base files and modules in three packages
        assert [p["name"].split("-")[1] for p in meta["packages"]] == ["binary", "base", "modules"]

    header = bzimage.read_setup_header(kernel.bzimage.read_bytes()[:0x10000], str(kernel.bzimage))
    assert header.release == kernel.release
    assert kernel.vmlinux is not None and kernel.vmlinux.read_bytes()[:4] == b"\x7fELF"
    assert kernel.config is not None
    config = kernel.config.read_text()
    assert "CONFIG_MEMORY_HOTPLUG=y" in config and "CONFIG_NUMA=y" in config
    assert (entry / "System.map").is_file()  # Debian ships a placeholder: no symbols in it
    assert kernel.system_map is None

    tree = kernels.module_tree(kernel)
    (virtio_mem,) = [m for m in kernels.needed_modules(kernel, ["virtio_mem"]) if m.name == "virtio_mem"]
    assert load_module(virtio_mem.source).vermagic.split(" ", 1)[0] == kernel.release
    assert tree.root.parent == tmp_path / "cache" / "kernels" / "modules"

    assert list((tmp_path / "cache").rglob("*.deb")) == []  # downloads are not kept
    again = kernels.resolve(f"debian:{latest}")
    assert again.bzimage == kernel.bzimage  # cached by release: nothing fetched twice
