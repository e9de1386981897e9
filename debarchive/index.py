"""Reading a suite's verified indexes: the Release (from InRelease) and Packages.

Parsed with python-debian's ``deb822`` (the library Debian's own tools use; it reads
the format's continuation lines and multi-line hash fields as apt does) rather than by
hand; apt itself with a private ``Dir::State`` would also verify, but it is a host
package whose behaviour differs between Debian releases and it cannot run on a host
without apt. Only the fields memhp needs are kept (``debarchive.store``).
"""
from __future__ import annotations

import lzma
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from datetime import datetime
from pathlib import PurePosixPath

from debian.deb822 import Deb822, Release

from debarchive.errors import VerificationError
from debarchive.suites import ARCH, COMPONENT

PACKAGES_XZ = f"{COMPONENT}/binary-{ARCH}/Packages.xz"
_FIELDS = ["Package", "Version", "Filename", "SHA256", "Size"]

# (name, version, filename, sha256, size)
Row = tuple[str, str, str, str, int]


@dataclass(frozen=True)
class ReleaseInfo:
    """What memhp takes from a suite's signed Release text."""

    codename: str
    suite: str
    date: datetime | None
    valid_until: datetime | None
    packages_sha256: str
    packages_size: int


def _when(value: str | None) -> datetime | None:
    try:
        return parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None


def read_release(text: str, where: str) -> ReleaseInfo:
    """The Release fields memhp needs; ``VerificationError`` if Packages.xz is not listed."""
    release = Release(text.splitlines(keepends=True))
    entry = next((e for e in release.get("SHA256", []) if e.get("name") == PACKAGES_XZ), None)
    if entry is None:
        raise VerificationError(f"{where}: no SHA256 for {PACKAGES_XZ} in the signed Release")
    return ReleaseInfo(release.get("Codename", ""), release.get("Suite", ""), _when(release.get("Date")),
                       _when(release.get("Valid-Until")), str(entry["sha256"]), int(entry["size"]))


def read_packages(xz: bytes, where: str) -> list[Row]:
    """One row per package stanza of a verified ``Packages.xz``."""
    try:
        text = lzma.decompress(xz)
    except lzma.LZMAError as err:
        raise VerificationError(f"{where}: not xz data: {err}") from err
    return [(p["Package"], p["Version"], p["Filename"], p["SHA256"], int(p["Size"]))
            for p in Deb822.iter_paragraphs(text.splitlines(keepends=True), use_apt_pkg=False, fields=_FIELDS)
            if all(field in p for field in _FIELDS)]


def pool_path(filename: str, where: str) -> PurePosixPath:
    """A package's ``Filename`` as a path below the archive root; refuses one that climbs out."""
    path = PurePosixPath(filename)
    if path.is_absolute() or ".." in path.parts or not path.name.endswith(".deb"):
        raise VerificationError(f"{where}: package file name {filename!r} is not a .deb below the archive")
    return path
