"""The Debian archive client against a real archive built in the test (GnuPG-signed
InRelease, Packages.xz, dpkg-deb packages, loopback HTTP): what verifies is used, what
does not is refused naming the file and leaves nothing in the cache."""
from __future__ import annotations

import logging
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from debian_archive_fakes import FakeArchive, Key, archive, make_key, needs_tools, serve, stop_agent, unreachable_uri

from debarchive import ArchiveUnreachable, Origin, VerificationError, unpack
from debarchive.sources import mirrors
from debarchive.unpack import member_path
from harness.errors import BadInputError, InfrastructureError

pytestmark = needs_tools


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Key, Key]]:
    directory = tmp_path_factory.mktemp("keys")
    good, wrong = make_key(directory, "good"), make_key(directory, "wrong")
    yield good, wrong
    stop_agent(good)
    stop_agent(wrong)


@pytest.fixture
def fake(tmp_path: Path) -> FakeArchive:
    return FakeArchive(tmp_path / "mirror", tmp_path / "build")


def cached_files(root: Path) -> list[str]:
    """What the cache holds besides lock files and directories."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and not p.name.endswith(".lock"))


def test_verified_package_is_listed_downloaded_and_unpacked(tmp_path: Path, fake: FakeArchive,
                                                            keys: tuple[Key, Key]) -> None:
    fake.add("trixie", "qemu-demo", "1:9.2+ds-1", {"usr/bin/qemu-demo": b"#!/bin/sh\n"},
             {"usr/share/doc/qemu-demo/link": "/usr/bin/qemu-demo"})
    fake.add("trixie", "other", "1.0", {"etc/other": b"x"})
    fake.publish("trixie", keys[0])
    with serve(fake.root) as uri:
        client = archive(uri, keys[0], tmp_path / "cache")
        (pkg,) = client.packages(r"qemu-.*")
        assert (pkg.name, pkg.version, pkg.suite) == ("qemu-demo", "1:9.2+ds-1", "trixie")
        deb = client.download(pkg)
    assert deb.parent == tmp_path / "cache" / "debs" and deb.stat().st_size == pkg.size
    dest = tmp_path / "unpacked"
    unpack(deb, dest)
    assert (dest / "usr/bin/qemu-demo").read_bytes() == b"#!/bin/sh\n"
    link = dest / "usr/share/doc/qemu-demo/link"
    assert os.readlink(link) == "../../../bin/qemu-demo" and link.resolve() == (dest / "usr/bin/qemu-demo").resolve()
    assert (tmp_path / "cache" / "debs").stat().st_mode & 0o777 == 0o700


def test_versions_sort_as_dpkg_sorts_them(tmp_path: Path, fake: FakeArchive, keys: tuple[Key, Key]) -> None:
    for version in ("1.10-1", "1.9-1", "1.10-1~bpo1", "2:0.1-1"):
        fake.add("trixie", "pkg", version)
    fake.publish("trixie", keys[0])
    with serve(fake.root) as uri:
        found = archive(uri, keys[0], tmp_path / "cache").packages("pkg")
    assert [p.version for p in found] == ["1.9-1", "1.10-1~bpo1", "1.10-1", "2:0.1-1"]


def test_one_corrupt_byte_in_a_deb_is_refused_and_nothing_cached(tmp_path: Path, fake: FakeArchive,
                                                                  keys: tuple[Key, Key]) -> None:
    deb = fake.add("trixie", "pkg", "1.0", {"usr/share/pkg/data": b"payload" * 100})
    fake.publish("trixie", keys[0])
    data = bytearray(deb.read_bytes())
    data[len(data) // 2] ^= 0x01
    deb.write_bytes(bytes(data))
    with serve(fake.root) as uri:
        client = archive(uri, keys[0], tmp_path / "cache")
        (pkg,) = client.packages("pkg")
        with pytest.raises(VerificationError, match=f"{deb.name}: SHA256 .* the signed index says") as err:
            client.download(pkg)
    assert err.value.exit_code == 125
    assert [f for f in cached_files(tmp_path / "cache") if f.startswith("debs/")] == []


def test_corrupt_packages_index_is_refused_and_not_cached(tmp_path: Path, fake: FakeArchive,
                                                          keys: tuple[Key, Key]) -> None:
    fake.add("trixie", "pkg", "1.0")
    fake.publish("trixie", keys[0])
    for xz in (fake.root / "dists/trixie/main/binary-amd64").rglob("*"):
        if xz.is_file():
            data = bytearray(xz.read_bytes())
            data[-1] ^= 0xFF
            xz.write_bytes(bytes(data))
    with serve(fake.root) as uri, pytest.raises(VerificationError, match="by-hash/SHA256/.*: SHA256"):
        archive(uri, keys[0], tmp_path / "cache").packages("pkg")
    assert cached_files(tmp_path / "cache") == []


def test_archive_signed_by_another_key_is_refused(tmp_path: Path, fake: FakeArchive, keys: tuple[Key, Key]) -> None:
    fake.add("trixie", "pkg", "1.0")
    fake.publish("trixie", keys[1])
    with serve(fake.root) as uri, pytest.raises(VerificationError,
                                                match=r"dists/trixie/InRelease: signature not verified"):
        archive(uri, keys[0], tmp_path / "cache").packages("pkg")
    assert cached_files(tmp_path / "cache") == []


def test_one_good_signature_of_two_is_enough(tmp_path: Path, fake: FakeArchive) -> None:
    """Debian signs each suite with two releases' keys; a host's keyring may know only one
    (a Debian 12 keyring and a key made after it), as apt accepts."""
    keys = tmp_path / "two"
    known = make_key(keys, "known", home=keys / "home")
    make_key(keys, "newer", home=keys / "home")
    fake.add("sid", "pkg", "1.0")
    fake.publish("sid", known, signers=("known", "newer"))
    with serve(fake.root) as uri:
        (pkg,) = archive(uri, known, tmp_path / "cache", suites=("sid",)).packages("pkg")
    assert pkg.suite == "sid"
    stop_agent(known)


def test_text_changed_after_signing_is_a_bad_signature(tmp_path: Path, fake: FakeArchive,
                                                       keys: tuple[Key, Key]) -> None:
    fake.add("trixie", "pkg", "1.0")
    inrelease = fake.publish("trixie", keys[0])
    inrelease.write_text(inrelease.read_text().replace("Origin: memhp-test", "Origin: memhp-evil"))
    with serve(fake.root) as uri, pytest.raises(VerificationError, match="InRelease: signature BAD"):
        archive(uri, keys[0], tmp_path / "cache").packages("pkg")
    assert cached_files(tmp_path / "cache") == []


def test_a_suite_served_in_place_of_another_is_refused(tmp_path: Path, fake: FakeArchive,
                                                       keys: tuple[Key, Key]) -> None:
    fake.add("sid", "pkg", "1.0")
    fake.publish("sid", keys[0], codename="bookworm")  # bookworm's genuine index, served as sid's
    with serve(fake.root) as uri, pytest.raises(VerificationError, match="signed for suite 'bookworm', not 'sid'"):
        archive(uri, keys[0], tmp_path / "cache", suites=("sid",)).packages("pkg")


def test_unreachable_archive_uses_the_cached_index_and_says_so(tmp_path: Path, fake: FakeArchive,
                                                               keys: tuple[Key, Key],
                                                               caplog: pytest.LogCaptureFixture) -> None:
    fake.add("trixie", "pkg", "1.0")
    fake.publish("trixie", keys[0])
    with serve(fake.root) as uri:
        archive(uri, keys[0], tmp_path / "cache").packages("pkg")
    offline = archive(unreachable_uri(), keys[0], tmp_path / "cache", max_age=0)
    with caplog.at_level(logging.WARNING):
        (pkg,) = offline.packages("pkg")
    assert "trixie: archive unreachable, using the index fetched" in caplog.text
    with pytest.raises(ArchiveUnreachable, match="127.0.0.1"):
        offline.download(pkg)
    with pytest.raises(ArchiveUnreachable):  # nothing cached: nothing to fall back to
        archive(unreachable_uri(), keys[0], tmp_path / "empty").packages("pkg")


def test_half_written_download_never_counts(tmp_path: Path, fake: FakeArchive, keys: tuple[Key, Key]) -> None:
    deb = fake.add("trixie", "pkg", "1.0", {"usr/share/pkg/data": os.urandom(4096)})
    fake.publish("trixie", keys[0])
    whole = deb.read_bytes()
    cache = tmp_path / "cache"
    with serve(fake.root) as uri:
        client = archive(uri, keys[0], cache)
        (pkg,) = client.packages("pkg")
        deb.write_bytes(whole[: len(whole) // 2])  # the server's copy cut short
        with pytest.raises(VerificationError, match=f"{deb.name}: size {len(whole) // 2} bytes"):
            client.download(pkg)
        assert [f for f in cached_files(cache) if f.startswith("debs/")] == []
        # A torn file under the final name (an old memhp, a crash) is not trusted either.
        (cache / "debs" / deb.name).write_bytes(whole[:100])
        deb.write_bytes(whole)
        assert client.download(pkg).read_bytes() == whole


def test_index_is_reused_until_max_age(tmp_path: Path, fake: FakeArchive, keys: tuple[Key, Key]) -> None:
    fake.add("trixie", "pkg", "1.0")
    fake.publish("trixie", keys[0])
    with serve(fake.root) as uri:
        assert [p.version for p in archive(uri, keys[0], tmp_path / "c").packages("pkg")] == ["1.0"]
        fake.add("trixie", "pkg", "2.0")
        fake.publish("trixie", keys[0])
        assert [p.version for p in archive(uri, keys[0], tmp_path / "c").packages("pkg")] == ["1.0"]
        fresh = archive(uri, keys[0], tmp_path / "c", max_age=0).packages("pkg")
    assert [p.version for p in fresh] == ["1.0", "2.0"]


def test_unpack_refuses_members_that_climb_out(tmp_path: Path) -> None:
    assert member_path("./usr/bin/x").as_posix() == "usr/bin/x"
    assert member_path("./") is None
    for bad in ("../etc/passwd", "/etc/passwd", "./usr/../../x"):
        with pytest.raises(ValueError):
            member_path(bad)
    deb = _hand_made_deb(tmp_path, [("./usr/", None), ("./usr/../../evil", b"x")])
    with pytest.raises(InfrastructureError, match="'./usr/../../evil' would land outside"):
        unpack(deb, tmp_path / "dest")
    assert not (tmp_path / "evil").exists()


def test_unpack_never_writes_through_a_symlink(tmp_path: Path) -> None:
    deb = _hand_made_deb(tmp_path, [("./lib", "../../outside"), ("./lib/x", b"x")])
    with pytest.raises(InfrastructureError, match="symlink './lib' -> '../../outside' points out"):
        unpack(deb, tmp_path / "dest")
    deb = _hand_made_deb(tmp_path, [("./lib", "/"), ("./lib/x", b"x")])  # absolute: into dest
    unpack(deb, tmp_path / "dest2")
    assert (tmp_path / "dest2" / "x").read_bytes() == b"x" and not Path("/x").exists()


def _hand_made_deb(workdir: Path, members: list[tuple[str, bytes | str | None]]) -> Path:
    """A .deb whose data.tar has exactly ``members`` (bytes: file, str: symlink, None: dir),
    names dpkg-deb --build would never write."""
    import io
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        for name, body in members:
            info = tarfile.TarInfo(name)
            if body is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif isinstance(body, str):
                info.type, info.linkname = tarfile.SYMTYPE, body
                tar.addfile(info)
            else:
                info.size = len(body)
                tar.addfile(info, io.BytesIO(body))
    control = io.BytesIO()
    with tarfile.open(fileobj=control, mode="w:gz") as tar:
        text = b"Package: evil\nVersion: 1\nArchitecture: amd64\nMaintainer: t <t@e.org>\nDescription: x\n"
        info = tarfile.TarInfo("./control")
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text))
    deb = workdir / "evil.deb"
    with deb.open("wb") as out:
        out.write(b"!<arch>\n")
        for name, body in (("debian-binary", b"2.0\n"), ("control.tar.gz", control.getvalue()),
                           ("data.tar.gz", data.getvalue())):
            out.write(f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(body):<10}`\n".encode())
            out.write(body + (b"\n" if len(body) % 2 else b""))
    return deb


def test_mirrors_from_apt_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("MEMHP_DEBIAN_MIRROR", "MEMHP_DEBIAN_SECURITY_MIRROR"):
        monkeypatch.delenv(var, raising=False)
    etc = tmp_path / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.invalid/debian/\nSuites: trixie trixie-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://security.invalid/debian-security\nSuites: trixie-security\nComponents: main\n\n"
        "Types: deb-src\nURIs: http://src.invalid/debian\nSuites: trixie\nComponents: main\n")
    (etc / "sources.list.d" / "other.sources").write_text(
        "Types: deb\nURIs: https://deb.example.invalid/node\nSuites: nodistro\nComponents: main\n")
    assert mirrors(etc) == {Origin.MAIN: "http://mirror.invalid/debian",
                            Origin.SECURITY: "http://security.invalid/debian-security"}
    monkeypatch.setenv("MEMHP_DEBIAN_MIRROR", "file:///srv/debian/")
    assert mirrors(etc)[Origin.MAIN] == "file:///srv/debian"


def test_mirrors_from_one_line_sources_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("MEMHP_DEBIAN_MIRROR", "MEMHP_DEBIAN_SECURITY_MIRROR"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "# deb http://commented.invalid/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
        "http://mirror.invalid/debian bookworm main\n"
        "deb http://security.invalid/debian-security bookworm-security main\n")
    assert mirrors(tmp_path) == {Origin.MAIN: "http://mirror.invalid/debian",
                                 Origin.SECURITY: "http://security.invalid/debian-security"}


def test_no_debian_archive_anywhere_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMHP_DEBIAN_MIRROR", raising=False)
    with pytest.raises(BadInputError, match="no Debian archive in .*: set MEMHP_DEBIAN_MIRROR"):
        mirrors(tmp_path)
    monkeypatch.setenv("MEMHP_DEBIAN_MIRROR", "ftp://old.invalid/debian")
    with pytest.raises(BadInputError, match="MEMHP_DEBIAN_MIRROR='ftp://old.invalid/debian': not an http"):
        mirrors(tmp_path)


def test_suites_that_cannot_be_read_are_named(tmp_path: Path, fake: FakeArchive, keys: tuple[Key, Key]) -> None:
    from debarchive import Archive, Suite
    fake.add("trixie", "pkg", "1.0")
    fake.publish("trixie", keys[0])
    with serve(fake.root) as uri:
        client = Archive(mirrors={Origin.MAIN: uri}, keyring=keys[0].keyring, root=tmp_path / "cache",
                         suites=[Suite("trixie", Origin.MAIN), Suite("sid", Origin.MAIN),
                                 Suite("trixie-security", Origin.SECURITY)])
        assert [p.suite for p in client.packages("pkg")] == ["trixie"]
    assert client.skipped["sid"].startswith("not on this mirror (") and "dists/sid/InRelease" in client.skipped["sid"]
    assert client.skipped["trixie-security"] == "no security archive configured (set MEMHP_DEBIAN_SECURITY_MIRROR)"
