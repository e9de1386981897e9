"""A verified client of Debian's archive, for any package memhp takes from it.

``Archive().packages(regex)`` lists the packages of every suite in ``SUITES`` whose name
matches; ``Archive().download(pkg)`` gives a .deb verified by the chain InRelease
signature → Packages.xz SHA256 → .deb SHA256; ``unpack(deb, dest)`` unpacks it safely.
The mirror comes from the host's apt configuration (``debarchive.sources``). Errors are
``InfrastructureError`` (exit 125): ``VerificationError`` (nothing cached),
``ArchiveUnreachable`` (callers fall back to what they have cached), ``NotInArchive``.
"""
from __future__ import annotations

from debarchive.archive import MAX_AGE, Archive, Package
from debarchive.store import SuiteIndex
from debarchive.errors import ArchiveUnreachable, NotInArchive, VerificationError
from debarchive.suites import SUITES, Origin, Suite
from debarchive.unpack import stream_deb, unpack, unpack_tar

__all__ = ["MAX_AGE", "SUITES", "Archive", "ArchiveUnreachable", "NotInArchive", "Origin", "Package", "Suite",
           "SuiteIndex", "VerificationError", "stream_deb", "unpack", "unpack_tar"]
