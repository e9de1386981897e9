"""Which Debian kernels exist: the builds the archive's indexes describe, by series.

A *build* is one uname -r (``7.3.4+deb13-amd64``) at one package version in one suite,
with the packages that make it whole. Debian packs a kernel two ways:

- ``Layout.IMAGE`` (up to 6.x): ``linux-image-R-amd64-unsigned`` (or, where only the
  signed one exists, as 6.16–6.18 in trixie-backports, ``linux-image-R-amd64``; both boot
  in QEMU, which does not check signatures) holds ``boot/{vmlinuz,System.map,config}-R``
  and the modules.
- ``Layout.SPLIT`` (from 7.x): ``linux-binary[-unsigned]-R`` holds the image under
  ``usr/lib/modules/R/``, ``linux-base-R`` the config, System.map and module lists, and
  ``linux-modules-R`` the modules; ``linux-image-R`` is then a 2 KiB meta-package.

A version whose split packages are not all there (the archive keeps some older
``linux-binary`` packages whose ``linux-base``/``linux-modules`` are gone) is no build.
Only the generic ``amd64`` flavour is read (not ``cloud-amd64``, ``rt-amd64``).
"""
from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

from debian.debian_support import Version

from debarchive import SUITES, Package
from harness.errors import BadInputError
from kernels.spec import DEBIAN_RELEASE, DebianSpec, Pick

# kernel.org's longterm series (https://www.kernel.org/category/releases.html), in order:
# ``debian:lts`` is the newest of these the archive ships. The one place to add the next.
LONGTERM = ("5.4", "5.10", "5.15", "6.1", "6.6", "6.12", "6.18")

# Every package name a build may consist of; ``_NAME`` splits it into kind and release.
PACKAGE_REGEX = r"linux-(?:image|binary|binary-unsigned|base|modules)-[0-9][^ ]*-amd64(?:-unsigned)?"
_NAME = re.compile(r"^linux-(?P<kind>image|binary-unsigned|binary|base|modules)-(?P<release>.+?)"
                   r"(?P<unsigned>-unsigned)?$")
_UPSTREAM = re.compile(r"^(?:\d+:)?(\d+)\.(\d+)\.(\d+)")


class Layout(enum.Enum):
    IMAGE = "linux-image"
    SPLIT = "linux-binary + linux-base + linux-modules"


def series_key(series: str) -> tuple[int, int]:
    major, minor = series.split(".")
    return int(major), int(minor)


# Between two builds of one upstream release from different Debian releases (6.12.118 is
# in bookworm-security as +deb12 and in trixie-security as +deb13), the older Debian
# release's wins, so a name keeps its build when a newer release ships the same kernel;
# within one Debian release the newer package version wins (a security rebuild).
_LINES = tuple(dict.fromkeys(s.name.split("-")[0] for s in SUITES))


def line_rank(suite: str) -> int:
    return _LINES.index(suite.split("-")[0])


@dataclass(frozen=True)
class Build:
    """One kernel build and the packages that make it whole: ``(image,)`` for
    ``Layout.IMAGE``; ``(binary, base, modules)`` for ``Layout.SPLIT``."""

    release: str
    upstream: tuple[int, int, int]
    layout: Layout
    packages: tuple[Package, ...]

    @property
    def series(self) -> str:
        return f"{self.upstream[0]}.{self.upstream[1]}"

    @property
    def main(self) -> Package:
        """The package that holds the image; the cache entry is named after it."""
        return self.packages[0]

    @property
    def version(self) -> str:
        return self.main.version

    @property
    def suite(self) -> str:
        return self.main.suite

    @property
    def boot_packages(self) -> tuple[Package, ...]:
        """The packages that hold vmlinuz, System.map and config."""
        return self.packages[:2] if self.layout is Layout.SPLIT else self.packages

    @property
    def modules_package(self) -> Package:
        """The package that holds the ``.ko`` files; the modules entry is named after it."""
        return self.packages[-1]

    @property
    def module_list_packages(self) -> tuple[Package, ...]:
        """The packages that hold ``modules.builtin``/``modules.order`` and the modules."""
        return self.packages[1:] if self.layout is Layout.SPLIT else self.packages

    def order(self) -> tuple[tuple[int, int, int], int, Version]:
        """Sort key: newest last (see ``line_rank`` for ties)."""
        return self.upstream, -line_rank(self.suite), Version(self.version)


def _builds(packages: Iterable[Package]) -> list[Build]:
    groups: dict[tuple[str, str, str], dict[str, Package]] = {}
    for pkg in packages:
        match = _NAME.match(pkg.name)
        if match is None or not DEBIAN_RELEASE.match(match["release"]):
            continue
        kind = match["kind"] + ("-unsigned" if match["unsigned"] else "")
        groups.setdefault((match["release"], pkg.version, pkg.suite), {})[kind] = pkg
    found = []
    for (release, version, _suite), kinds in groups.items():
        upstream = _UPSTREAM.match(version)
        if upstream is None:
            continue
        nums = (int(upstream[1]), int(upstream[2]), int(upstream[3]))
        binary = kinds.get("binary-unsigned") or kinds.get("binary")
        image = kinds.get("image-unsigned") or kinds.get("image")
        if binary is not None or "base" in kinds:
            if binary is not None and "base" in kinds and "modules" in kinds:
                found.append(Build(release, nums, Layout.SPLIT, (binary, kinds["base"], kinds["modules"])))
        elif image is not None:
            found.append(Build(release, nums, Layout.IMAGE, (image,)))
    return sorted(found, key=Build.order)


@dataclass(frozen=True)
class Catalog:
    """Every whole kernel build in the archive, oldest first."""

    builds: tuple[Build, ...]

    @classmethod
    def from_packages(cls, packages: Iterable[Package]) -> Catalog:
        return cls(tuple(_builds(packages)))

    def series(self) -> list[str]:
        """The series the archive has, oldest first."""
        return sorted({b.series for b in self.builds}, key=series_key)

    def newest(self, series: str) -> Build | None:
        return next((b for b in reversed(self.builds) if b.series == series), None)

    def resolve_alias(self, pick: Pick) -> str | None:
        """The series ``debian:lts`` / ``debian:latest`` name today, None if none."""
        have = self.series()
        if pick is Pick.LATEST:
            return have[-1] if have else None
        lts = [s for s in have if s in LONGTERM]
        return lts[-1] if lts else None

    def pick(self, spec: DebianSpec) -> Build:
        """The build ``spec`` names; ``BadInputError`` listing the series the archive has."""
        if spec.pick in (Pick.LTS, Pick.LATEST):
            series = self.resolve_alias(spec.pick)
            chosen = self.newest(series) if series else None
        elif spec.pick is Pick.SERIES:
            chosen = self.newest(spec.value)
        elif spec.pick is Pick.PATCH:
            wanted = tuple(int(n) for n in spec.value.split("."))
            chosen = next((b for b in reversed(self.builds) if b.upstream == wanted), None)
        else:
            chosen = next((b for b in reversed(self.builds) if b.release == spec.value), None)
        if chosen is None:
            raise BadInputError(f"kernel {spec.text}: not in Debian's archive; it has series "
                                f"{', '.join(self.series()) or 'none'} (debian:SERIES, debian:SERIES.PATCH, "
                                "debian:RELEASE, debian:lts, debian:latest)")
        return chosen
