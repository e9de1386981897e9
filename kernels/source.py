"""Kernel sources: Debian's ``linux-source-SERIES``, fetched and verified like the kernels
(``debarchive``), unpacked once into ``<cache>/kernel-sources/<package>_<version>/``.

The kernel engine builds a release's own ``mm/memblock.c`` from it, and the guest selftest
takes its script from it. Which build of a series: the same choice as the kernel catalog
makes (``kernels.debian_catalog.Build.order``), so ``debian:6.12``'s kernel and source are
one release. The archive unreachable, the newest unpacked tree of the series is used and
a line says so.
"""
from __future__ import annotations

import json
import logging
import re
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

from debian.debian_support import Version

from debarchive import Archive, ArchiveUnreachable, Package, stream_deb, unpack_tar
from harness import paths
from harness.errors import BadInputError, InfrastructureError
from kernels import cache, debian
from kernels.debian_catalog import line_rank

log = logging.getLogger(__name__)

_SERIES = re.compile(r"^\d+\.\d+$")
_UPSTREAM = re.compile(r"^(?:\d+:)?(\d+)\.(\d+)\.(\d+)")


def sources_root() -> Path:
    return paths.cache_root() / "kernel-sources"


def _order(pkg: Package) -> tuple[tuple[int, ...], int, Version]:
    match = _UPSTREAM.match(pkg.version)
    upstream = tuple(int(n) for n in match.groups()) if match else ()
    return upstream, -line_rank(pkg.suite), Version(pkg.version)


def newest_source(series: str, archive: Archive) -> Package:
    """The ``linux-source-SERIES`` package to use; ``BadInputError`` listing the series with sources."""
    found = archive.packages(re.escape(f"linux-source-{series}"))
    if not found:
        have = sorted({p.name.removeprefix("linux-source-") for p in archive.packages(r"linux-source-\d+\.\d+")},
                      key=lambda s: tuple(int(n) for n in s.split(".")))
        raise BadInputError(f"kernel source {series}: Debian's archive has no linux-source-{series}; "
                            f"it has {', '.join(have) or 'none'}")
    return max(found, key=_order)


def _cached_trees(series: str) -> list[tuple[Version, Path]]:
    root = sources_root()
    found = []
    for entry in root.glob(f"linux-source-{series}_*") if root.is_dir() else []:
        if cache.is_complete(entry):
            version = str(json.loads((entry / cache.META).read_text())["version"])
            found.append((Version(version), entry / f"linux-source-{series}"))
    return sorted(found, reverse=True)


def source_tree(series: str, archive: Archive | None = None) -> Path:
    """The unpacked source tree of the kernel series ``series`` (e.g. ``"6.12"``)."""
    if not _SERIES.match(series):
        raise BadInputError(f"kernel source {series!r}: not a series (MAJOR.MINOR, e.g. 6.12)")
    try:
        pkg = newest_source(series, archive or debian.default_archive())
    except ArchiveUnreachable as err:
        cached = _cached_trees(series)
        if not cached:
            raise ArchiveUnreachable(f"kernel source {series}: Debian's archive unreachable and no "
                                     f"unpacked tree cached: {err}") from err
        log.warning("kernel source %s: Debian's archive unreachable, using the cached %s: %s",
                    series, cached[0][1].parent.name, err)
        return cached[0][1]
    return _fetch(pkg, series, archive or debian.default_archive())


def _fetch(pkg: Package, series: str, archive: Archive) -> Path:
    entry = sources_root() / f"{pkg.name}_{pkg.version}"
    tree = entry / f"linux-source-{series}"
    with cache.entry_lock(entry):
        if cache.is_complete(entry):
            return tree
        with cache.staging(entry) as tmp, tempfile.TemporaryDirectory(dir=entry.parent, prefix=".dl-") as dl:
            deb = archive.download(pkg, Path(dl))
            tarball = _tarball_of(deb, series, Path(dl))
            deb.unlink()  # both at once would need twice the disk
            unpack_tar(tarball, tmp)
            if not (tmp / f"linux-source-{series}" / "Makefile").is_file():
                raise InfrastructureError(f"{pkg.name} {pkg.version}: the tarball has no linux-source-{series}/Makefile")
            meta = {"package": pkg.name, "version": pkg.version, "suite": pkg.suite, "sha256": pkg.sha256}
            (tmp / cache.META).write_text(json.dumps(meta, indent=2) + "\n")
    log.info("unpacked %s %s in %s", pkg.name, pkg.version, entry)
    return tree


def _tarball_of(deb: Path, series: str, directory: Path) -> Path:
    """Copy ``usr/src/linux-source-SERIES.tar.*`` out of the package into ``directory``."""
    wanted = re.compile(rf"^\./usr/src/linux-source-{re.escape(series)}\.tar\.(xz|bz2|gz)$")
    found: list[Path] = []

    def take(member: tarfile.TarInfo, read: Callable[[], bytes]) -> None:
        match = wanted.match(member.name)
        if match and member.isfile():
            path = directory / f"linux-source-{series}.tar.{match[1]}"
            path.write_bytes(read())
            found.append(path)

    stream_deb(deb, take)
    if not found:
        raise InfrastructureError(f"{deb}: no usr/src/linux-source-{series}.tar.*")
    return found[0]
