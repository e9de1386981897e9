"""Kernel sources from a real archive built in the test: ``linux-source-SERIES`` fetched,
verified and unpacked once; faults as for the kernels."""
from __future__ import annotations

import io
import logging
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from debian_archive_fakes import FakeArchive, Key, archive, make_key, needs_tools, serve, stop_agent, unreachable_uri

from debarchive import ArchiveUnreachable, VerificationError
from harness.errors import BadInputError
from kernels import debian
from kernels.source import source_tree

pytestmark = needs_tools


def source_tarball(series: str, memblock: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:xz") as tar:
        for name, data in ((f"linux-source-{series}/Makefile", b"VERSION = 9\n"),
                           (f"linux-source-{series}/mm/memblock.c", memblock)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Key]:
    key = make_key(tmp_path_factory.mktemp("keys"), "sources")
    yield key
    stop_agent(key)


@pytest.fixture
def fake(tmp_path: Path, key: Key) -> FakeArchive:
    fake = FakeArchive(tmp_path / "mirror", tmp_path / "build")
    for version, text in (("9.9.1-1", b"/* old */"), ("9.9.2-1", b"/* new */")):
        fake.add("trixie", "linux-source-9.9", version,
                 {"usr/src/linux-source-9.9.tar.xz": source_tarball("9.9", text)})
    fake.add("trixie", "linux-source-9.10", "9.10.1-1", {"usr/src/linux-source-9.10.tar.xz": source_tarball("9.10", b"")})
    fake.publish("trixie", key)
    return fake


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MEMHP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_newest_source_unpacked_once_then_used_offline(fake: FakeArchive, key: Key, cache: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    with serve(fake.root) as uri:
        client = archive(uri, key, cache / "debian-archive")
        tree = source_tree("9.9", client)
        assert tree == cache / "kernel-sources" / "linux-source-9.9_9.9.2-1" / "linux-source-9.9"
        assert (tree / "mm/memblock.c").read_bytes() == b"/* new */"
        (tree / "mm/memblock.c").write_bytes(b"/* a file a test patched */")
        assert source_tree("9.9", client) == tree  # unpacked once
        assert (tree / "mm/memblock.c").read_bytes() == b"/* a file a test patched */"
    assert list(cache.rglob("*.deb")) == [] and list(cache.rglob("*.tar.xz")) == []
    monkeypatch.setattr(debian, "default_archive", lambda: archive(unreachable_uri(), key, cache / "empty"))
    with caplog.at_level(logging.WARNING):
        assert source_tree("9.9") == tree
    assert "kernel source 9.9: Debian's archive unreachable, using the cached linux-source-9.9_9.9.2-1" in caplog.text
    with pytest.raises(ArchiveUnreachable, match="kernel source 9.10: Debian's archive unreachable and no"):
        source_tree("9.10")


def test_unknown_series_lists_the_sources_there_are(fake: FakeArchive, key: Key, cache: Path) -> None:
    with serve(fake.root) as uri, pytest.raises(BadInputError) as err:
        source_tree("6.18", archive(uri, key, cache / "debian-archive"))
    assert str(err.value) == "kernel source 6.18: Debian's archive has no linux-source-6.18; it has 9.9, 9.10"
    with pytest.raises(BadInputError, match="'6.18.5': not a series"):
        source_tree("6.18.5")


def test_corrupt_source_package_is_refused_and_nothing_unpacked(fake: FakeArchive, key: Key, cache: Path) -> None:
    deb = next(fake.root.rglob("linux-source-9.10_*.deb"))
    data = bytearray(deb.read_bytes())
    data[100] ^= 0x01
    deb.write_bytes(bytes(data))
    with serve(fake.root) as uri, pytest.raises(VerificationError, match=f"{deb.name}: SHA256") as err:
        source_tree("9.10", archive(uri, key, cache / "debian-archive"))
    assert err.value.exit_code == 125
    assert [p.name for p in (cache / "kernel-sources").iterdir() if not p.name.endswith(".lock")] == []
