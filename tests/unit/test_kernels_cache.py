"""Debian kernels from a real archive built in the test (signed InRelease, Packages.xz,
dpkg-deb packages in both of Debian's layouts, loopback HTTP): the catalog by series,
fetch into the cache, modules from the same download, offline fallback, and faults."""
from __future__ import annotations

import json
import logging
import lzma
import multiprocessing
import multiprocessing.synchronize
import os
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from debian_archive_fakes import FakeArchive, Key, archive, make_key, needs_tools, serve, stop_agent, unreachable_uri
from module_fakes import fake_module
from test_kernels_bzimage import FAKE_ELF, make_bzimage

import kernels
from debarchive import Archive, ArchiveUnreachable, Origin, Suite, VerificationError
from harness.errors import BadInputError
from kernels import debian
from kernels.debian_catalog import Layout
from kernels.debian_modules import module_entry
from kernels.spec import DebianSpec, parse_spec

pytestmark = needs_tools

SUITES = ("bookworm", "trixie-backports")
OLD, OLDER = "6.1.0-99-amd64", "6.1.0-98-amd64"
SIGNED = "6.18.5+deb13-amd64"
SPLIT = "7.3.4+deb13-amd64"


def _modules(release: str, with_virtio_mem: bool = True) -> dict[str, bytes]:
    """A release's module files (virtio_mem needs virtio, which needs virtio_ring) and lists."""
    vermagic = f"{release} SMP preempt mod_unload modversions"
    files = {"virtio_ring.ko": ("virtio_ring", ""), "virtio.ko.xz": ("virtio", "virtio_ring"),
             "virtio_pci.ko": ("virtio_pci", "virtio")}
    if with_virtio_mem:
        files["virtio_mem.ko.xz"] = ("virtio_mem", "virtio")
    out = {}
    for name, (modname, depends) in files.items():
        image = fake_module(modname, depends, vermagic)
        out[f"kernel/drivers/virtio/{name}"] = lzma.compress(image) if name.endswith(".xz") else image
    out["modules.order"] = "".join(f"kernel/drivers/virtio/{n.removesuffix('.xz')}\n" for n in files).encode()
    out["modules.builtin"] = b"kernel/drivers/base/firmware_loader.ko\n"
    return out


def _boot(release: str) -> dict[str, bytes]:
    return {f"boot/vmlinuz-{release}": make_bzimage(release), f"boot/config-{release}": b"CONFIG_NUMA=y\n",
            f"boot/System.map-{release}": b"ffffffff81000000 T _text\nffffffff81000100 T _etext\n"}


def add_image(fake: FakeArchive, suite: str, release: str, version: str, *, signed: bool = False,
              merged_usr: bool = False, with_virtio_mem: bool = True) -> Path:
    """A linux-image package: boot/ files and the modules, in one .deb."""
    moddir = f"{'usr/' if merged_usr else ''}lib/modules/{release}"
    files = {**_boot(release), **{f"{moddir}/{k}": v for k, v in _modules(release, with_virtio_mem).items()},
             "usr/lib/virtio_mem.ko": b"decoy"}  # the same name outside lib/modules/<release>/
    name = f"linux-image-{release}" + ("" if signed else "-unsigned")
    return fake.add(suite, name, version, files)


def add_split(fake: FakeArchive, suite: str, release: str, version: str) -> dict[str, Path]:
    """7.x's layout: the image, the base files and the modules in three packages (and the
    linux-image meta-package, which holds none of them)."""
    moddir = f"usr/lib/modules/{release}"
    mods = _modules(release)
    return {
        "binary": fake.add(suite, f"linux-binary-unsigned-{release}", version,
                           {f"{moddir}/vmlinuz.unsigned": make_bzimage(release)}),
        "base": fake.add(suite, f"linux-base-{release}", version,
                         {f"{moddir}/config": b"CONFIG_NUMA=y\n", f"{moddir}/System.map": b"ffffffff81000000 T _text\n",
                          **{f"{moddir}/{k}": mods.pop(k) for k in ("modules.order", "modules.builtin")}}),
        "modules": fake.add(suite, f"linux-modules-{release}", version, {f"{moddir}/{k}": v for k, v in mods.items()}),
        "meta": fake.add(suite, f"linux-image-{release}", version, {"usr/share/doc/x": b"meta"}),
    }


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Key]:
    key = make_key(tmp_path_factory.mktemp("keys"), "kernels")
    yield key
    stop_agent(key)


@pytest.fixture
def fake(tmp_path: Path, key: Key) -> FakeArchive:
    fake = FakeArchive(tmp_path / "mirror", tmp_path / "build")
    add_image(fake, "bookworm", OLDER, "6.1.150-1")
    add_image(fake, "bookworm", OLD, "6.1.160-1")
    add_image(fake, "trixie-backports", SIGNED, "6.18.5-1~bpo13+1", signed=True, merged_usr=True)
    add_split(fake, "trixie-backports", SPLIT, "7.3.4-1~bpo13+1")
    # A signed image left in the archive whose base and modules packages are gone: no build.
    fake.add("trixie-backports", "linux-binary-7.1.3+deb13-amd64", "7.1.3-1~bpo13+1", {"x": b"x"})
    for suite in SUITES:
        fake.publish(suite, key)
    return fake


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MEMHP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def client(fake: FakeArchive, key: Key, cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Archive]:
    """memhp's archive, pointed at the fake one."""
    with serve(fake.root) as uri:
        client = archive(uri, key, cache / "debian-archive", suites=SUITES)
        monkeypatch.setattr(debian, "default_archive", lambda: client)
        yield client


def test_catalog_series_aliases_and_pins(client: Archive) -> None:
    found = kernels.available()
    assert found.series() == ["6.1", "6.18", "7.3"]  # 7.1: its packages are not all there
    assert [(b.release, b.layout) for b in found.builds if b.series != "6.1"] == [
        (SIGNED, Layout.IMAGE), (SPLIT, Layout.SPLIT)]
    cases = {"debian:6.1": OLD, "debian:6.1.150": OLDER, f"debian:{OLDER}": OLDER,
             "debian:lts": SIGNED, "debian:latest": SPLIT, "debian:7.3": SPLIT, "debian:7.3.4": SPLIT}
    for spec, release in cases.items():
        parsed = parse_spec(spec)
        assert isinstance(parsed, DebianSpec)
        assert found.pick(parsed).release == release, spec
    table = kernels.format_available(found)
    assert [line.split()[:4] for line in table.splitlines()[1:-1]] == [
        ["debian:6.1", OLD, "6.1.160-1", "bookworm"], ["debian:6.18", SIGNED, "6.18.5-1~bpo13+1", "trixie-backports"],
        ["debian:7.3", SPLIT, "7.3.4-1~bpo13+1", "trixie-backports"]]
    assert table.splitlines()[-1] == "debian:lts = debian:6.18; debian:latest = debian:7.3"


def test_split_layout_fetch_and_its_modules(client: Archive, cache: Path) -> None:
    kernel = kernels.fetch("debian:7.3")
    entry = cache / "kernels" / f"linux-binary-unsigned-{SPLIT}_7.3.4-1~bpo13+1"
    assert kernel.bzimage == entry / "vmlinuz" and kernel.release == SPLIT and kernel.version == (7, 3)
    assert sorted(p.name for p in entry.iterdir()) == ["System.map", "config", "meta.json", "vmlinux", "vmlinuz"]
    assert kernel.config is not None and kernel.config.read_text() == "CONFIG_NUMA=y\n"
    assert (entry / "vmlinux").read_bytes() == FAKE_ELF
    meta = json.loads((entry / "meta.json").read_text())
    assert [p["name"] for p in meta["packages"]] == [f"linux-binary-unsigned-{SPLIT}", f"linux-base-{SPLIT}",
                                                     f"linux-modules-{SPLIT}"]
    modules = module_entry(f"linux-modules-{SPLIT}", "7.3.4-1~bpo13+1")
    assert json.loads((modules / "meta.json").read_text())["modules"] == [
        "virtio", "virtio_mem", "virtio_pci", "virtio_ring"]
    names = [m.name for m in kernels.needed_modules(kernel, ["virtio_mem"])]
    assert names == ["virtio_ring", "virtio", "virtio_mem"]
    assert [p for p in (cache / "kernels").rglob("*.deb")] == []  # the downloads are not kept


def test_signed_only_image_with_merged_usr_modules(client: Archive, cache: Path) -> None:
    kernel = kernels.fetch("debian:lts")
    assert (kernel.release, kernel.spec, kernel.package_version) == (SIGNED, "debian:lts", "6.18.5-1~bpo13+1")
    assert kernel.bzimage.parent.name == f"linux-image-{SIGNED}_6.18.5-1~bpo13+1"
    assert "virtio_mem" in kernels.module_tree(kernel).modular
    assert [k.spec for k in kernels.list_kernels()] == [f"debian:{SIGNED}"]


def test_unknown_series_lists_what_the_archive_has(client: Archive) -> None:
    with pytest.raises(BadInputError) as err:
        kernels.resolve("debian:5.10")
    assert str(err.value) == ("kernel debian:5.10: not in Debian's archive; it has series 6.1, 6.18, 7.3 "
                              "(debian:SERIES, debian:SERIES.PATCH, debian:RELEASE, debian:lts, debian:latest)")
    assert err.value.exit_code == 2


def test_corrupt_package_is_125_naming_it_and_nothing_cached(fake: FakeArchive, key: Key, cache: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    deb = add_image(fake, "bookworm", "6.1.0-100-amd64", "6.1.170-1")
    fake.publish("bookworm", key)
    data = bytearray(deb.read_bytes())
    data[-10] ^= 0x01
    deb.write_bytes(bytes(data))
    with serve(fake.root) as uri:
        client = archive(uri, key, cache / "debian-archive", suites=SUITES)
        monkeypatch.setattr(debian, "default_archive", lambda: client)
        with pytest.raises(VerificationError, match=f"{deb.name}: SHA256") as err:
            kernels.fetch("debian:6.1")
    assert err.value.exit_code == 125
    assert kernels.list_kernels() == []
    leftovers = [p.name for p in (cache / "kernels").rglob("*") if not p.name.endswith(".lock") and p.name != "modules"]
    assert leftovers == []


def test_unreachable_archive_falls_back_to_the_cached_kernel_of_the_series(
        client: Archive, key: Key, cache: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    fetched = kernels.fetch(f"debian:{OLDER}")
    offline = archive(unreachable_uri(), key, cache / "debian-archive", suites=SUITES)
    monkeypatch.setattr(debian, "default_archive", lambda: offline)
    with caplog.at_level(logging.WARNING):
        kernel = kernels.resolve("debian:6.1")  # the index names 6.1.0-99, which cannot come
    assert kernel.bzimage == fetched.bzimage and kernel.spec == "debian:6.1"
    assert f"debian:6.1: Debian's archive unreachable, using the cached {OLDER} (6.1.150-1)" in caplog.text
    assert kernels.needed_modules(kernel, ["virtio_mem"])  # its modules were kept at fetch time
    with pytest.raises(ArchiveUnreachable, match="kernel debian:7.3: Debian's archive unreachable and no cached"):
        kernels.resolve("debian:7.3")


def test_entry_from_before_the_catalog_gets_its_modules(client: Archive, cache: Path) -> None:
    """Entries written before builds were recorded (package, version, release only) still
    find their modules: the build is looked up in the catalog."""
    kernel = kernels.resolve("debian:6.1")
    meta_path = kernel.bzimage.parent / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({k: meta[k] for k in ("package", "version", "release")}))
    modules = module_entry(f"linux-image-{OLD}-unsigned", "6.1.160-1")
    for path in sorted(modules.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    modules.rmdir()
    assert kernels.module_tree(kernel).root == modules
    assert "virtio_mem" in json.loads((modules / "meta.json").read_text())["modules"]


def test_a_kernel_without_the_module_is_refused_naming_it(fake: FakeArchive, key: Key, cache: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    add_image(fake, "bookworm", "6.1.0-100-amd64", "6.1.170-1", with_virtio_mem=False)
    fake.publish("bookworm", key)
    with serve(fake.root) as uri:
        client = archive(uri, key, cache / "debian-archive", suites=SUITES)
        monkeypatch.setattr(debian, "default_archive", lambda: client)
        kernel = kernels.fetch("debian:6.1")
    with pytest.raises(BadInputError, match=r"kernel debian:6.1 \(6.1.0-100-amd64\): module virtio_mem is missing"):
        kernels.needed_modules(kernel, ["virtio_pci", "virtio_mem"])


def test_cli_unknown_series_is_one_line_exit_2(fake: FakeArchive, key: Key, cache: Path) -> None:
    with serve(fake.root) as uri:
        env = {**os.environ, "MEMHP_DEBIAN_MIRROR": uri, "MEMHP_DEBIAN_SECURITY_MIRROR": uri,
               "MEMHP_DEBIAN_KEYRING": str(key.keyring)}
        proc = subprocess.run([sys.executable, "-m", "harness.cli", "kernels", "fetch", "debian:6.2"],
                              env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "not in Debian's archive" in line]
    assert len(lines) == 1 and "it has series 6.1, 6.18, 7.3" in lines[0]
    assert "Traceback" not in proc.stderr


def _fetch_in_child(cache_dir: str, uri: str, keyring: str, barrier: multiprocessing.synchronize.Barrier,
                    results: multiprocessing.Queue[str]) -> None:
    os.environ["MEMHP_CACHE"] = cache_dir
    os.environ["MEMHP_DEBIAN_KEYRING"] = keyring
    client = Archive(mirrors={Origin.MAIN: uri}, keyring=Path(keyring),
                     suites=[Suite(s, Origin.MAIN) for s in SUITES], root=Path(cache_dir) / "debian-archive")
    debian.default_archive = lambda: client  # type: ignore[assignment]  # this child's own
    barrier.wait()
    results.put(str(kernels.fetch("debian:7.3").bzimage))


def test_two_processes_fetch_once(fake: FakeArchive, key: Key, cache: Path) -> None:
    requests: list[str] = []
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    with serve(fake.root, requests) as uri:
        args = (str(cache), uri, str(key.keyring), barrier, results)
        procs = [ctx.Process(target=_fetch_in_child, args=args) for _ in range(2)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0, 0]
    assert results.get() == results.get()
    debs = sorted(urllib.parse.unquote(r.rsplit("/", 1)[-1]) for r in requests if r.endswith(".deb"))
    assert debs == sorted({d for d in debs})  # each package downloaded once
    assert len(debs) == 3 and all(SPLIT in d for d in debs)
    assert sum(r.endswith("/InRelease") for r in requests) == len(SUITES)  # each index read once


def test_a_kernel_the_archive_dropped_still_comes_from_the_cache(fake: FakeArchive, key: Key, cache: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    requests: list[str] = []
    with serve(fake.root, requests) as uri:
        client = archive(uri, key, cache / "debian-archive", suites=SUITES)
        monkeypatch.setattr(debian, "default_archive", lambda: client)
        fetched = kernels.fetch("debian:lts")
        fake.stanzas["trixie-backports"] = [s for s in fake.stanzas["trixie-backports"] if "6.18" not in s]
        fake.publish("trixie-backports", key)  # 6.18 leaves the archive
        client = archive(uri, key, cache / "debian-archive", suites=SUITES, max_age=0)
        requests.clear()
        assert kernels.resolve(f"debian:{SIGNED}").bzimage == fetched.bzimage  # a pin in the cache: as it is
        assert requests == []
        with caplog.at_level(logging.WARNING):
            assert kernels.resolve("debian:6.18").bzimage == fetched.bzimage
        assert f"debian:6.18: no longer in Debian's archive, using the cached {SIGNED}" in caplog.text
        with pytest.raises(BadInputError, match="debian:6.17: not in Debian's archive; it has series 6.1, 7.3 "):
            kernels.resolve("debian:6.17")
        assert kernels.resolve("debian:lts").release == OLD  # lts follows the archive: now 6.1
