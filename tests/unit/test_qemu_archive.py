"""``--qemu debian:…``: which package a spec names, per host release (the archive's own
verification is tests/unit/test_debarchive.py's)."""
from __future__ import annotations

from pathlib import Path

import pytest

import debarchive
from harness.errors import BadInputError
from harness.qemu.archive import choose, host_release, upstream

# The qemu-system-x86 builds the archive had when this was written (Debian's indexes).
ARCHIVE = [debarchive.Package("qemu-system-x86", version, suite, f"pool/q_{version}.deb", "0" * 64, 1)
           for version, suite in (("1:7.2+dfsg-7+deb12u18+b3", "bookworm"),
                                  ("1:10.0.2+ds-2+deb13u1~bpo12+1", "bookworm-backports"),
                                  ("1:10.0.13+ds-0+deb13u1", "trixie"),
                                  ("1:11.1.3+ds-2~bpo13+1", "trixie-backports"),
                                  ("1:11.1.3+ds-1", "sid"))]


@pytest.mark.parametrize(("spec", "host", "suite"), [
    ("debian:10.0", "12", "bookworm-backports"),   # the host's own backports build
    ("debian:10.0", "13", "trixie"),
    ("debian:11.1", "13", "trixie-backports"),
    ("debian:11.1", "12", "trixie-backports"),     # no bookworm build: the newest anywhere
    ("debian:11", "13", "trixie-backports"),
    ("debian:sid", "12", "sid"),
    ("debian:bookworm-backports", "13", "bookworm-backports"),
])
def test_a_spec_names_one_build(spec: str, host: str, suite: str) -> None:
    assert choose(spec, ARCHIVE, host).suite == suite


def test_upstream_version_of_a_debian_version() -> None:
    assert upstream("1:10.0.2+ds-2+deb13u1~bpo12+1") == "10.0.2"
    assert upstream("1:7.2+dfsg-7+deb12u18+b3") == "7.2"


@pytest.mark.parametrize(("spec", "message"), [
    ("debian:9.2", "no qemu-system-x86 in the archive matches; it has 10.0.13 (trixie), "),
    ("debian:buster", "expected debian:<suite>"),
])
def test_a_spec_the_archive_cannot_meet_is_one_line(spec: str, message: str) -> None:
    with pytest.raises(BadInputError, match="^--qemu: " + spec) as err:
        choose(spec, ARCHIVE, "12")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_host_release_reads_os_release(tmp_path: Path) -> None:
    (tmp_path / "os").write_text('PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\nVERSION_ID="13"\n')
    assert host_release(tmp_path / "os") == "13"
    (tmp_path / "os").write_text('ID=ubuntu\nVERSION_ID="24.04"\n')
    assert host_release(tmp_path / "os") is None
    assert host_release(tmp_path / "missing") is None
